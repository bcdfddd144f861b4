//! Database commands sent as they are (createIndexes, listIndexes, findAndModify, drop, collMod, ...):
//! what the Node driver's `Db#command` and its helpers send.

use bson::RawDocumentBuf;
use mongodb::Cursor;
use serde::Deserialize;

use crate::cluster::Lease;
use crate::error::Error;
use crate::namespace::Namespace;

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
pub async fn run(ns: &Namespace, req: CommandRequest) -> Result<RawDocumentBuf, Error> {
    req.name()?;
    let reply = ns.database().await?.run_raw_command(req.command).await?;
    Ok(RawDocumentBuf::try_from(&reply)?)
}

/// Runs a command answered with a cursor (`{ cursor: { firstBatch, id } }`) and iterates it.
pub async fn open_cursor(ns: &Namespace, req: CommandRequest) -> Result<(Cursor<RawDocumentBuf>, Lease), Error> {
    req.name()?;
    let (db, lease) = ns.database().await?.into_parts();
    let mut run = db.run_raw_cursor_command(req.command);
    if let Some(batch_size) = req.batch_size {
        run = run.batch_size(batch_size);
    }
    Ok((run.await?.with_type(), lease))
}
