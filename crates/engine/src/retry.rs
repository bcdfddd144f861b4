//! Retryable Writes, as the MongoDB specification of that name has drivers do them, for the writes the
//! engine sends as raw commands (`insert`, `update`, `delete`, `findAndModify`). The driver retries
//! only its typed writes, so the engine numbers these itself: each carries an `lsid` and a
//! `txnNumber`, and after a retryable error it is sent once more with the same pair, which the server
//! recognises (it answers with `retriedStmtIds`): a write is never applied twice.

use std::sync::Arc;

use bson::{Bson, Document, RawDocumentBuf};
use mongodb::error::{ErrorKind, NO_WRITES_PERFORMED, RETRYABLE_WRITE_ERROR};
use mongodb::{Client, ClientSession, Database};

use crate::error::Error;
use crate::sync::Mutex;

/// Server error codes after which a write is retried (Retryable Writes specification), for servers
/// that do not label their errors `RetryableWriteError` (before 4.4).
const RETRYABLE_CODES: [i32; 12] = [11600, 11602, 10107, 13435, 13436, 189, 91, 7, 6, 89, 9001, 262];

/// The first `txnNumber` the engine sends in a session it takes from the driver's pool, above any the
/// driver sent in it: the driver hands back the server sessions of ended application sessions, whose
/// transactions the server remembers, and refuses a number not above theirs (217, 225).
const FIRST_TXN_NUMBER: i64 = 1 << 32;

/// The sessions of one client that the engine numbers its retryable writes in. While the client lives
/// they never go back to the driver's pool: the driver would number its own transactions on them
/// from its own count, below the engine's, which the server refuses (TransactionTooOld, 225).
/// Dropped with the client; a session that saw a network error is dropped at once (the driver then
/// discards it, as the Driver Sessions specification says of a dirty session).
pub struct WriteSessions {
    client: Client,
    /// Idle sessions, each with the last `txnNumber` it sent.
    free: Mutex<Vec<(ClientSession, i64)>>,
}

impl WriteSessions {
    pub fn new(client: Client) -> Arc<Self> {
        Arc::new(WriteSessions { client, free: Mutex::new(Vec::new()) })
    }

    async fn checkout(self: &Arc<Self>) -> Result<WriteSession, Error> {
        let idle = self.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop();
        let (session, txn_number) = match idle {
            Some(idle) => idle,
            None => (self.client.start_session().causal_consistency(false).await?, FIRST_TXN_NUMBER),
        };
        Ok(WriteSession { owner: self.clone(), session: Some(session), txn_number, keep: true })
    }
}

/// A session checked out for one write; back to its `WriteSessions` when dropped, unless `keep` was
/// cleared.
struct WriteSession {
    owner: Arc<WriteSessions>,
    session: Option<ClientSession>,
    txn_number: i64,
    keep: bool,
}

impl WriteSession {
    fn session(&mut self) -> &mut ClientSession {
        self.session.as_mut().expect("a write session holds its session until dropped")
    }
}

impl Drop for WriteSession {
    fn drop(&mut self) {
        if let (true, Some(session)) = (self.keep, self.session.take()) {
            self.owner.free.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((session, self.txn_number));
        }
    }
}

/// Runs write command `command` on `db`:
/// - in `session` when one is given (the application's), once: a retry would need that session's
///   next transaction number, which its driver keeps;
/// - else, with `writes` (the client's, when the deployment and the URI allow retryable writes), in
///   one of its sessions with a new `txnNumber`, sent once more after a retryable error (a network
///   error, a pool cleared, a retryable server error or write concern error);
/// - else once, in an implicit session.
///
/// `db` must be of the client of `writes`. Resolves to the server's reply (write errors and write
/// concern errors are data in it). Errors: the driver's; after a failed retry, the retry's error,
/// unless no write was performed by it (`NoWritesPerformed`, or no server was selected), then the
/// first one (specification); a network error of a retried write is `Error::RetriedWrite`.
pub(crate) async fn run_write(
    db: &Database,
    writes: Option<&Arc<WriteSessions>>,
    mut command: RawDocumentBuf,
    session: Option<&mut ClientSession>,
) -> Result<Document, Error> {
    if let Some(session) = session {
        return Ok(db.run_raw_command(command).session(session).await?);
    }
    let Some(writes) = writes else {
        return Ok(db.run_raw_command(command).await?);
    };
    let mut checked_out = writes.checkout().await?;
    checked_out.txn_number += 1;
    command.append(bson::cstr!("txnNumber"), checked_out.txn_number);
    let first = match db.run_raw_command(command.clone()).session(checked_out.session()).await {
        Ok(reply) if !retryable_reply(&reply) => return Ok(reply),
        Ok(reply) => Ok(reply),
        Err(error) if retryable_error(&error) => Err(error),
        Err(error) => return Err(error.into()),
    };
    let retried = db.run_raw_command(command).session(checked_out.session()).await;
    let network = |outcome: &Result<Document, mongodb::error::Error>| outcome.as_ref().is_err_and(is_network);
    if network(&first) || network(&retried) {
        checked_out.keep = false;
    }
    match (first, retried) {
        (_, Ok(reply)) => Ok(reply),
        (Ok(reply), Err(retry)) if performed_nothing(&retry) => Ok(reply),
        (Err(first), Err(retry)) if performed_nothing(&retry) => Err(retried_write(first)),
        (_, Err(retry)) => Err(retried_write(retry)),
    }
}

/// A reply whose write concern error the specification retries.
fn retryable_reply(reply: &Document) -> bool {
    let labelled = reply
        .get_array("errorLabels")
        .is_ok_and(|labels| labels.iter().any(|l| l.as_str() == Some(RETRYABLE_WRITE_ERROR)));
    let code = reply.get_document("writeConcernError").ok().and_then(|wce| match wce.get("code") {
        Some(Bson::Int32(code)) => Some(*code),
        Some(Bson::Int64(code)) => i32::try_from(*code).ok(),
        _ => None,
    });
    labelled || code.is_some_and(|code| RETRYABLE_CODES.contains(&code))
}

fn retryable_error(error: &mongodb::error::Error) -> bool {
    if is_network(error) || error.contains_label(RETRYABLE_WRITE_ERROR) {
        return true;
    }
    matches!(error.kind.as_ref(), ErrorKind::Command(c) if RETRYABLE_CODES.contains(&c.code))
}

fn is_network(error: &mongodb::error::Error) -> bool {
    matches!(error.kind.as_ref(), ErrorKind::Io(_) | ErrorKind::ConnectionPoolCleared { .. })
}

/// Whether a retry's failure says it wrote nothing: no server was selected, or it says so.
fn performed_nothing(error: &mongodb::error::Error) -> bool {
    matches!(error.kind.as_ref(), ErrorKind::ServerSelection { .. }) || error.contains_label(NO_WRITES_PERFORMED)
}

fn retried_write(error: mongodb::error::Error) -> Error {
    if is_network(&error) {
        Error::RetriedWrite(error)
    } else {
        error.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn write_concern_errors_are_retried_by_code_or_label() {
        assert!(retryable_reply(&doc! { "ok": 1, "writeConcernError": { "code": 91, "errmsg": "shutting down" } }));
        assert!(retryable_reply(&doc! { "ok": 1, "errorLabels": ["RetryableWriteError"] }));
        assert!(!retryable_reply(&doc! { "ok": 1, "writeConcernError": { "code": 64, "errmsg": "timeout" } }));
        assert!(!retryable_reply(&doc! { "ok": 1, "n": 1 }));
    }

    #[test]
    fn network_errors_and_listed_codes_are_retried() {
        let io = mongodb::error::Error::from(ErrorKind::Io(Arc::new(std::io::ErrorKind::ConnectionReset.into())));
        assert!(retryable_error(&io));
        let shutdown = mongodb::error::Error::from(ErrorKind::Shutdown);
        assert!(!retryable_error(&shutdown));
        assert!(!performed_nothing(&io));
    }
}
