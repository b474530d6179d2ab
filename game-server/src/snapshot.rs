//! Snapshots: SQLite online backup → zstd → object store, with a manifest.
//!
//! A snapshot is written as `snapshots/<time>-t<tick>.db.zst`, then its
//! manifest beside it (`.json`), then `latest.json`, so a reader that
//! follows `latest.json` never sees a half-written snapshot. Large
//! snapshots are uploaded in parts. Retention keeps the newest N and the
//! newest of each of the last D days.
//!
//! Restore follows `latest.json`, checks size and SHA-256, decompresses and
//! checks the database; when the newest snapshot is missing or corrupt it
//! says so loudly and falls back to the next newest.

use std::io::{Read, Write};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Secret;
use crate::metrics::Metrics;
use crate::store::{SCHEMA_VERSION, Store};

/// Objects above this size are uploaded in parts.
const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
/// Part size for multipart uploads.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// Snapshot failures.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The object-store URL or options are wrong.
    #[error("object store configuration: {0}")]
    Config(String),
    /// The object store failed or could not be reached.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Local I/O failed.
    #[error("local file: {0}")]
    Io(#[from] std::io::Error),
    /// A snapshot failed its checks.
    #[error("snapshot {key} is corrupt: {reason}")]
    Corrupt {
        /// Object key.
        key: String,
        /// What failed.
        reason: String,
    },
    /// Snapshots exist but none could be restored.
    #[error("no usable snapshot: {0}")]
    NoneUsable(String),
    /// The newest snapshot needs a newer server.
    #[error("snapshot {key} has schema version {found}; this server supports up to {supported}")]
    TooNew {
        /// Object key.
        key: String,
        /// Its schema.
        found: u32,
        /// Ours.
        supported: u32,
    },
    /// A background task failed.
    #[error("snapshot task failed: {0}")]
    Task(String),
}

/// Describes one snapshot; `latest.json` holds the newest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Object key of the compressed database.
    pub key: String,
    /// SHA-256 of the object, lower-case hex.
    pub sha256: String,
    /// Object size in bytes.
    pub size: u64,
    /// Uncompressed database size in bytes.
    pub db_size: u64,
    /// Last completed tick in the snapshot.
    pub tick: u64,
    /// State hash stored for that tick (empty before the first tick).
    pub state_hash: String,
    /// Commands in the snapshot's log.
    pub commands: u64,
    /// Database schema version.
    pub schema_version: u32,
    /// campaign-gen generator version.
    pub generator_version: String,
    /// Campaign id.
    pub campaign_id: String,
    /// When it was taken (RFC 3339, UTC).
    pub created_at: String,
    /// When it was taken (Unix milliseconds).
    pub created_unix_ms: i64,
}

/// Connection settings for S3-compatible stores.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Endpoint URL (for non-AWS stores).
    pub endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<Secret>,
}

/// Where snapshots live.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

/// Retention policy.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Keep the newest N.
    pub keep_last: usize,
    /// Keep the newest of each of the last D days.
    pub keep_days: u32,
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A finished local snapshot file, ready to upload.
#[derive(Debug)]
struct Prepared {
    file: PathBuf,
    sha256: String,
    size: u64,
    db_size: u64,
    tick: u64,
    state_hash: String,
    commands: u64,
    campaign_id: String,
    generator_version: String,
}

/// Online backup of `db` into `work_dir`, compressed. Blocking.
fn prepare(db: &FsPath, work_dir: &FsPath) -> Result<Prepared, SnapshotError> {
    let backup_path = work_dir.join("snapshot-backup.db");
    let zst_path = work_dir.join("snapshot-upload.db.zst");
    let _ = std::fs::remove_file(&backup_path);
    {
        let src = Connection::open_with_flags(
            db,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        let mut dst = Connection::open(&backup_path)?;
        // All pages in one step: one consistent read of the source.
        let backup = rusqlite::backup::Backup::new(&src, &mut dst)?;
        backup.step(-1)?;
    }
    let store = Store::open_read_only(&backup_path)
        .map_err(|e| SnapshotError::Task(format!("backup unreadable: {e}")))?;
    let meta = store
        .meta()
        .map_err(|e| SnapshotError::Task(e.to_string()))?
        .ok_or_else(|| SnapshotError::Task("database has no campaign".into()))?;
    let hashes = store
        .tick_hashes()
        .map_err(|e| SnapshotError::Task(e.to_string()))?;
    let commands = store
        .last_seq()
        .map_err(|e| SnapshotError::Task(e.to_string()))?;
    drop(store);
    let (tick, state_hash) = hashes.last().cloned().unwrap_or((0, String::new()));
    let db_size = std::fs::metadata(&backup_path)?.len();
    let generator_version = meta
        .settings
        .get("generator_version")
        .and_then(|v| v.as_str())
        .unwrap_or("v1")
        .to_owned();
    let out = std::fs::File::create(&zst_path)?;
    let mut writer = HashingWriter {
        inner: std::io::BufWriter::new(out),
        hasher: Sha256::new(),
        written: 0,
    };
    {
        let mut input = std::io::BufReader::new(std::fs::File::open(&backup_path)?);
        let mut enc = zstd::stream::Encoder::new(&mut writer, 3)?;
        std::io::copy(&mut input, &mut enc)?;
        enc.finish()?;
    }
    writer.flush()?;
    let sha256 = hex::encode(writer.hasher.finalize());
    let size = writer.written;
    let _ = std::fs::remove_file(&backup_path);
    Ok(Prepared {
        file: zst_path,
        sha256,
        size,
        db_size,
        tick,
        state_hash,
        commands,
        campaign_id: meta.campaign_id,
        generator_version,
    })
}

/// Builds the object store for a URL: `file:///path` or `s3://bucket/prefix`.
pub fn open_object_store(url: &str, s3: &S3Options) -> Result<SnapshotStore, SnapshotError> {
    let parsed = url::Url::parse(url).map_err(|e| SnapshotError::Config(format!("{url}: {e}")))?;
    match parsed.scheme() {
        "file" => {
            let dir = parsed
                .to_file_path()
                .map_err(|_| SnapshotError::Config(format!("{url}: not a local path")))?;
            std::fs::create_dir_all(&dir)?;
            let fs = object_store::local::LocalFileSystem::new_with_prefix(&dir)?;
            Ok(SnapshotStore {
                store: Arc::new(fs),
                prefix: Path::default(),
            })
        }
        "s3" => {
            let bucket = parsed
                .host_str()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| SnapshotError::Config(format!("{url}: no bucket")))?;
            // Bounded retries, so an unreachable store fails in seconds, not minutes.
            let retry = object_store::RetryConfig {
                backoff: object_store::BackoffConfig::default(),
                max_retries: 3,
                retry_timeout: std::time::Duration::from_secs(15),
            };
            let mut b = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(&s3.region)
                .with_retry(retry)
                .with_client_options(
                    object_store::ClientOptions::new()
                        .with_connect_timeout(std::time::Duration::from_secs(5))
                        .with_timeout(std::time::Duration::from_secs(120)),
                );
            if let Some(e) = &s3.endpoint {
                b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
            }
            if let Some(k) = &s3.access_key_id {
                b = b.with_access_key_id(k);
            }
            if let Some(s) = &s3.secret_access_key {
                b = b.with_secret_access_key(s.expose());
            }
            let store = b.build()?;
            Ok(SnapshotStore {
                store: Arc::new(store),
                prefix: Path::from(parsed.path().trim_matches('/')),
            })
        }
        other => Err(SnapshotError::Config(format!(
            "unsupported scheme {other:?}; use file:// or s3://"
        ))),
    }
}

impl SnapshotStore {
    /// A snapshot store over any object store.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> SnapshotStore {
        SnapshotStore {
            store,
            prefix: Path::from(prefix.trim_matches('/')),
        }
    }

    fn path(&self, rel: &str) -> Path {
        if self.prefix.as_ref().is_empty() {
            Path::from(rel)
        } else {
            Path::from(format!("{}/{rel}", self.prefix.as_ref()))
        }
    }

    /// The manifest `latest.json` points at, if any.
    pub async fn latest(&self) -> Result<Option<Manifest>, SnapshotError> {
        match self.store.get(&self.path("latest.json")).await {
            Ok(r) => {
                let bytes = r.bytes().await?;
                Ok(serde_json::from_slice(&bytes).ok())
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Every snapshot manifest, newest first.
    pub async fn list(&self) -> Result<Vec<Manifest>, SnapshotError> {
        let dir = self.path("snapshots");
        let metas: Vec<_> = self.store.list(Some(&dir)).try_collect().await?;
        let mut out = Vec::new();
        for m in metas {
            if !m.location.as_ref().ends_with(".json") {
                continue;
            }
            match self.store.get(&m.location).await {
                Ok(r) => match serde_json::from_slice::<Manifest>(&r.bytes().await?) {
                    Ok(man) => out.push(man),
                    Err(e) => tracing::warn!(key = %m.location, error = %e, "unreadable manifest"),
                },
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        out.sort_by(|a, b| b.key.cmp(&a.key));
        Ok(out)
    }

    /// Takes a snapshot of the database at `db` (online; the server keeps
    /// running), uploads it, writes the manifests and applies retention.
    pub async fn take(
        &self,
        db: &FsPath,
        retention: Retention,
        metrics: &Metrics,
    ) -> Result<Manifest, SnapshotError> {
        let started = Instant::now();
        let result = self.take_inner(db, retention).await;
        metrics
            .snapshot_seconds
            .observe(started.elapsed().as_secs_f64());
        match &result {
            Ok(m) => metrics.snapshot_bytes.set(m.size as i64),
            Err(e) => {
                metrics.snapshot_failures.inc();
                tracing::error!(error = %e, "snapshot failed");
            }
        }
        result
    }

    async fn take_inner(
        &self,
        db: &FsPath,
        retention: Retention,
    ) -> Result<Manifest, SnapshotError> {
        let db = db.to_path_buf();
        let work = db
            .parent()
            .map(FsPath::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let prepared = tokio::task::spawn_blocking(move || prepare(&db, &work))
            .await
            .map_err(|e| SnapshotError::Task(e.to_string()))??;
        let now = chrono::Utc::now();
        let name = format!(
            "snapshots/{:013}-t{:010}.db.zst",
            now.timestamp_millis(),
            prepared.tick
        );
        let key = self.path(&name);
        self.upload(&prepared.file, prepared.size, &key).await?;
        let _ = tokio::fs::remove_file(&prepared.file).await;
        let manifest = Manifest {
            key: key.to_string(),
            sha256: prepared.sha256,
            size: prepared.size,
            db_size: prepared.db_size,
            tick: prepared.tick,
            state_hash: prepared.state_hash,
            commands: prepared.commands,
            schema_version: SCHEMA_VERSION,
            generator_version: prepared.generator_version,
            campaign_id: prepared.campaign_id,
            created_at: now.to_rfc3339(),
            created_unix_ms: now.timestamp_millis(),
        };
        let body = Bytes::from(
            serde_json::to_vec_pretty(&manifest).map_err(|e| SnapshotError::Task(e.to_string()))?,
        );
        // Object first, then its manifest, then latest.json.
        let sidecar = self.path(&format!("{}.json", name.trim_end_matches(".db.zst")));
        self.store
            .put(&sidecar, PutPayload::from_bytes(body.clone()))
            .await?;
        self.store
            .put(&self.path("latest.json"), PutPayload::from_bytes(body))
            .await?;
        if let Err(e) = self.retain(retention, &manifest.key).await {
            tracing::warn!(error = %e, "snapshot retention failed; will retry next time");
        }
        Ok(manifest)
    }

    async fn upload(&self, file: &FsPath, size: u64, key: &Path) -> Result<(), SnapshotError> {
        if size <= MULTIPART_THRESHOLD {
            let bytes = tokio::fs::read(file).await?;
            self.store
                .put(key, PutPayload::from_bytes(Bytes::from(bytes)))
                .await?;
            return Ok(());
        }
        let upload = self.store.put_multipart(key).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut f = std::fs::File::open(file)?;
        let mut buf = vec![0u8; PART_SIZE];
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            writer.wait_for_capacity(4).await?;
            writer.write(&buf[..n]);
        }
        writer.finish().await?;
        Ok(())
    }

    /// Deletes snapshots outside the retention policy (never `keep_key`).
    pub async fn retain(&self, r: Retention, keep_key: &str) -> Result<(), SnapshotError> {
        let all = self.list().await?;
        let mut keep = std::collections::BTreeSet::new();
        keep.insert(keep_key.to_owned());
        for m in all.iter().take(r.keep_last.max(1)) {
            keep.insert(m.key.clone());
        }
        let now_ms = chrono::Utc::now().timestamp_millis();
        let day_ms = 86_400_000i64;
        let mut days_seen = std::collections::BTreeSet::new();
        for m in &all {
            let day = m.created_unix_ms.div_euclid(day_ms);
            if now_ms - m.created_unix_ms <= i64::from(r.keep_days) * day_ms
                && days_seen.insert(day)
            {
                keep.insert(m.key.clone());
            }
        }
        for m in all.iter().filter(|m| !keep.contains(&m.key)) {
            let obj = Path::from(m.key.as_str());
            let side = Path::from(format!("{}.json", m.key.trim_end_matches(".db.zst")));
            self.store.delete(&obj).await.or_else(ignore_missing)?;
            self.store.delete(&side).await.or_else(ignore_missing)?;
            tracing::info!(key = %m.key, "snapshot expired");
        }
        Ok(())
    }

    /// Restores the newest good snapshot to `dest`. `Ok(None)` when there
    /// is no snapshot at all. Corrupt or missing snapshots are skipped
    /// loudly in favour of the previous one.
    pub async fn restore(
        &self,
        dest: &FsPath,
        metrics: &Metrics,
    ) -> Result<Option<Manifest>, SnapshotError> {
        let mut candidates = Vec::new();
        if let Some(latest) = self.latest().await? {
            candidates.push(latest);
        }
        for m in self.list().await? {
            if !candidates.iter().any(|c| c.key == m.key) {
                candidates.push(m);
            }
        }
        if candidates.is_empty() {
            return Ok(None);
        }
        let mut failures = Vec::new();
        for m in candidates {
            match self.restore_one(&m, dest).await {
                Ok(()) => {
                    if !failures.is_empty() {
                        tracing::error!(key = %m.key, skipped = failures.len(),
                            "restored an OLDER snapshot because newer ones were unusable");
                    }
                    return Ok(Some(m));
                }
                Err(e @ SnapshotError::TooNew { .. }) => return Err(e),
                Err(e) => {
                    tracing::error!(key = %m.key, error = %e,
                        "SNAPSHOT UNUSABLE; falling back to the previous snapshot");
                    metrics.restore_fallbacks.inc();
                    failures.push(e.to_string());
                }
            }
        }
        Err(SnapshotError::NoneUsable(failures.join("; ")))
    }

    async fn restore_one(&self, m: &Manifest, dest: &FsPath) -> Result<(), SnapshotError> {
        let corrupt = |reason: String| SnapshotError::Corrupt {
            key: m.key.clone(),
            reason,
        };
        if m.schema_version > SCHEMA_VERSION {
            return Err(SnapshotError::TooNew {
                key: m.key.clone(),
                found: m.schema_version,
                supported: SCHEMA_VERSION,
            });
        }
        let bytes = match self.store.get(&Path::from(m.key.as_str())).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(corrupt("the object is missing".into()));
            }
            Err(e) => return Err(e.into()),
        };
        if bytes.len() as u64 != m.size {
            return Err(corrupt(format!("size {} != {}", bytes.len(), m.size)));
        }
        let sum = sha256_hex(&bytes);
        if sum != m.sha256 {
            return Err(corrupt(format!("sha256 {sum} != {}", m.sha256)));
        }
        let dest = dest.to_path_buf();
        let key = m.key.clone();
        tokio::task::spawn_blocking(move || unpack(&bytes, &dest, &key))
            .await
            .map_err(|e| SnapshotError::Task(e.to_string()))?
    }
}

fn ignore_missing(e: object_store::Error) -> Result<(), object_store::Error> {
    match e {
        object_store::Error::NotFound { .. } => Ok(()),
        e => Err(e),
    }
}

/// Decompresses a snapshot to `dest` (via a temporary file), checking the
/// database before it replaces anything.
pub fn unpack(bytes: &[u8], dest: &FsPath, key: &str) -> Result<(), SnapshotError> {
    let corrupt = |reason: String| SnapshotError::Corrupt {
        key: key.to_owned(),
        reason,
    };
    let tmp = dest.with_extension("restore.tmp");
    let _ = std::fs::remove_file(&tmp);
    {
        let mut out = std::fs::File::create(&tmp)?;
        zstd::stream::copy_decode(bytes, &mut out).map_err(|e| corrupt(format!("zstd: {e}")))?;
        out.sync_all()?;
    }
    {
        let conn = Connection::open_with_flags(&tmp, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| corrupt(e.to_string()))?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| corrupt(e.to_string()))?;
        if check != "ok" {
            return Err(corrupt(format!("integrity check: {check}")));
        }
    }
    match Store::open_read_only(&tmp) {
        Ok(_) => {}
        Err(crate::store::StoreError::SchemaTooNew { found, supported }) => {
            return Err(SnapshotError::TooNew {
                key: key.to_owned(),
                found,
                supported,
            });
        }
        Err(e) => return Err(corrupt(e.to_string())),
    }
    for ext in ["db-wal", "db-shm"] {
        let _ = std::fs::remove_file(dest.with_extension(ext));
    }
    std::fs::rename(&tmp, dest)?;
    Ok(())
}
