//! Cursors that hand results over in chunks of raw BSON, so a large result never sits in memory whole.

use bson::RawDocumentBuf;
use mongodb::Cursor;

use super::{command, CursorRequest};
use crate::cluster::Lease;
use crate::error::Error;
use crate::namespace::Namespace;

/// At most this many documents per chunk unless the query's batchSize says otherwise.
pub const DEFAULT_CHUNK_DOCS: u32 = 1000;
/// A chunk closes once it holds this many bytes.
pub const MAX_CHUNK_BYTES: usize = 8 * 1024 * 1024;

enum State {
    /// Not yet sent: the query runs when the first chunk is asked for.
    Pending(Box<CursorRequest>),
    /// Sent; the lease keeps its cluster from being closed as idle while the cursor is open, and takes
    /// a place in the cluster's admission only while a chunk is read.
    Open {
        cursor: Box<Cursor<RawDocumentBuf>>,
        lease: Lease,
    },
    Exhausted,
}

/// Documents laid end to end as BSON, the way js-bson's `deserializeStream` reads them.
#[derive(Debug, Default)]
pub struct Chunk {
    pub bytes: Vec<u8>,
    pub count: u32,
    pub done: bool,
}

pub struct DocCursor {
    ns: Namespace,
    state: State,
    chunk_docs: u32,
}

impl DocCursor {
    /// A cursor over `request`'s results; nothing is sent until the first chunk is asked for.
    pub fn new(ns: Namespace, request: CursorRequest) -> Self {
        let batch_size = match &request {
            CursorRequest::Find(req) => req.options.batch_size,
            CursorRequest::Aggregate(req) => req.options.batch_size,
            CursorRequest::Command(req) => req.batch_size,
        };
        DocCursor {
            ns,
            state: State::Pending(Box::new(request)),
            chunk_docs: batch_size.unwrap_or(DEFAULT_CHUNK_DOCS).max(1),
        }
    }

    /// The next documents, up to a chunk's size; `done` once nothing is left. Each chunk read from the
    /// server counts as one operation of the database.
    pub async fn next_chunk(&mut self) -> Result<Chunk, Error> {
        if matches!(self.state, State::Exhausted) {
            return Ok(Chunk { done: true, ..Chunk::default() });
        }
        self.ns.track(Self::read(&self.ns, &mut self.state, self.chunk_docs), |_| true).await
    }

    async fn read(ns: &Namespace, state: &mut State, chunk_docs: u32) -> Result<Chunk, Error> {
        // A query that fails to open leaves the cursor exhausted: its error is reported once.
        *state = match std::mem::replace(state, State::Exhausted) {
            State::Pending(source) => {
                let (cursor, lease) = open(ns, *source).await?;
                State::Open { cursor: Box::new(cursor), lease }
            }
            other => other,
        };
        let State::Open { cursor, lease } = state else {
            return Ok(Chunk { done: true, ..Chunk::default() });
        };
        lease.resume().await?;
        let chunk = Self::fill(cursor, chunk_docs).await;
        match &chunk {
            Ok(chunk) if !chunk.done => lease.pause(),
            _ => *state = State::Exhausted,
        }
        chunk
    }

    async fn fill(cursor: &mut Cursor<RawDocumentBuf>, chunk_docs: u32) -> Result<Chunk, Error> {
        let mut chunk = Chunk::default();
        while chunk.count < chunk_docs && chunk.bytes.len() < MAX_CHUNK_BYTES {
            if !cursor.advance().await? {
                chunk.done = true;
                break;
            }
            chunk.bytes.extend_from_slice(cursor.current().as_bytes());
            chunk.count += 1;
        }
        Ok(chunk)
    }

    /// Drops the cursor; the driver kills it on the server if it is still open there.
    pub fn close(&mut self) {
        self.state = State::Exhausted;
    }
}

async fn open(ns: &Namespace, request: CursorRequest) -> Result<(Cursor<RawDocumentBuf>, Lease), Error> {
    match request {
        CursorRequest::Find(req) => {
            let (coll, lease) = ns.collection().await?.into_parts();
            Ok((coll.find(req.filter).with_options(req.options.find()).await?, lease))
        }
        CursorRequest::Aggregate(req) => {
            let options = req.options.aggregate();
            if ns.coll.is_none() {
                let (db, lease) = ns.database().await?.into_parts();
                return Ok((db.aggregate(req.pipeline).with_options(options).await?.with_type(), lease));
            }
            let (coll, lease) = ns.collection().await?.into_parts();
            Ok((coll.aggregate(req.pipeline).with_options(options).await?.with_type(), lease))
        }
        CursorRequest::Command(req) => command::open_cursor(ns, req).await,
    }
}
