// GET /api/:tenant/notes lists the tenant's notes; POST { "text": "..." } adds one.
import mongoose from 'mongoose';
import { notesOf } from '@/lib/db';

const badTenant = () => Response.json({ error: 'invalid tenant id: use 1 to 32 of a-z, 0-9 and _' }, { status: 400 });

export async function GET(request, { params }) {
  const Note = notesOf((await params).tenant);
  if (!Note) return badTenant();
  // Plain objects, served by the engine directly (no Mongoose documents to build).
  const notes = await Note.find().sort({ createdAt: -1 }).limit(100).lean();
  return Response.json(notes);
}

export async function POST(request, { params }) {
  const Note = notesOf((await params).tenant);
  if (!Note) return badTenant();
  const body = await request.json().catch(() => null);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return Response.json({ error: 'expected a JSON object' }, { status: 400 });
  try {
    // Only the fields a client may set: never the whole body.
    const note = await Note.create({ text: body.text });
    return Response.json(note, { status: 201 });
  } catch (err) {
    if (err instanceof mongoose.Error.ValidationError) {
      return Response.json({ error: err.message, fields: Object.keys(err.errors) }, { status: 400 });
    }
    throw err;
  }
}
