'use strict';
// Plain Mongoose models, defined once per process as in any Mongoose app. Nothing here knows about
// tenants: app.js wraps them with polymongo-rs and picks each request's database.
const bcrypt = require('bcryptjs');
const mongoose = require('mongoose');

// The API never sends a password hash, not even the one `create` or `save` just wrote (where
// `select: false` does not apply): every document's JSON goes through this.
const toJSON = {
  versionKey: false,
  transform(doc, ret) {
    delete ret.password;
    return ret;
  },
};

const userSchema = new mongoose.Schema(
  {
    name: { type: String, required: true, trim: true, maxlength: 100 },
    // Unique within one tenant's database: the index is built in each database before its first write.
    email: { type: String, required: true, trim: true, lowercase: true, unique: true, match: /^[^@\s]+@[^@\s]+$/ },
    // Validated (minlength) on the plain text, before the hook below hashes it.
    password: { type: String, required: true, minlength: 8, select: false },
  },
  { timestamps: true, toJSON },
);

userSchema.pre('save', async function hashPassword() {
  if (!this.isModified('password')) return;
  this.password = await bcrypt.hash(this.password, 10);
});

const postSchema = new mongoose.Schema(
  {
    title: { type: String, required: true, trim: true, maxlength: 200 },
    body: { type: String, default: '', maxlength: 10_000 },
    author: {
      type: mongoose.Schema.Types.ObjectId,
      ref: 'User',
      required: true,
      index: true,
      // A ref alone accepts any id. `this.model('User')` is the User model of the post's own
      // database, so the author must be a user of the same tenant.
      // `exists()` resolves to null when there is none: compared, since Mongoose 9 takes a validator
      // resolving to null for a pass.
      validate: { async validator(id) { return (await this.model('User').exists({ _id: id })) !== null; }, message: 'no such user' },
    },
  },
  { timestamps: true, toJSON },
);

module.exports = {
  User: mongoose.model('User', userSchema),
  Post: mongoose.model('Post', postSchema),
};
