//! Database commands sent as they are (createIndexes, listIndexes, findAndModify, drop, collMod, ...):
//! what the Node driver's `Db#command` and its helpers send.

use bson::RawDocumentBuf;
use mongodb::action::Action;
use mongodb::ClientSession;
use serde::Deserialize;

use super::cursor::Opened;
use super::write;
use crate::cluster::Lease;
use crate::error::Error;
use crate::namespace::Namespace;
use crate::retry;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandRequest {
    /// The command document; its first key names the command.
    pub command: RawDocumentBuf,
    /// For a cursor command: documents per batch.
    pub batch_size: Option<u32>,
}

impl CommandRequest {
    /// The command's name (its first key), for errors.
    fn name(&self) -> Result<String, Error> {
        match self.command.iter().next() {
            Some(Ok((key, _))) => Ok(key.as_str().to_owned()),
            _ => Err(Error::InvalidArgument("a command must be a document whose first key names it".into())),
        }
    }
}

/// Runs the command on the namespace's database; resolves to the server's reply (an `ok: 0` reply is
/// an error).
pub async fn run(
    ns: &Namespace,
    req: CommandRequest,
    session: Option<&mut ClientSession>,
) -> Result<RawDocumentBuf, Error> {
    let name = req.name()?;
    let db = ns.database().await?;
    // findAndModify changes one document: a retryable write (specification), unless unacknowledged.
    let unacknowledged = req.command.get_document("writeConcern").is_ok_and(write::unacknowledged);
    let retryable = name.eq_ignore_ascii_case("findAndModify") && !unacknowledged;
    let writes = if retryable { ns.cluster().write_sessions() } else { None };
    let reply = retry::run_write(&db, writes.as_ref(), req.command, session).await?;
    Ok(RawDocumentBuf::try_from(&reply)?)
}

/// Runs a command answered with a cursor (`{ cursor: { firstBatch, id } }`) and iterates it.
pub async fn open_cursor(
    ns: &Namespace,
    req: CommandRequest,
    session: Option<&mut ClientSession>,
) -> Result<(Opened, Lease), Error> {
    req.name()?;
    let (db, lease) = ns.database().await?.into_parts();
    let run = db.run_raw_cursor_command(req.command).optional(req.batch_size, |a, n| a.batch_size(n));
    let opened = match session {
        Some(session) => Opened::InSession(run.session(session).await?.with_type()),
        None => Opened::Implicit(run.await?.with_type()),
    };
    Ok((opened, lease))
}
