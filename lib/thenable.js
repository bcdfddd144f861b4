'use strict';
// Queries and aggregations run when awaited: `then`, `catch` and `finally` delegate to `exec()`.

function makeThenable(Class) {
  Object.assign(Class.prototype, {
    then(resolve, reject) {
      return this.exec().then(resolve, reject);
    },
    catch(reject) {
      return this.exec().catch(reject);
    },
    finally(fn) {
      return this.exec().finally(fn);
    },
  });
}

module.exports = { makeThenable };
