//! The shared PostgreSQL database several machines push their usage to (`[sync]`):
//! connecting (TLS through rustls with the ring provider, the system's roots plus an
//! optional private CA), the schema, and every statement run there ([`push`],
//! [`report`]).
//!
//! Only usage leaves the machine: events (counts, times, profile, agent, provider and
//! model names, source), sessions (times, exit codes) and the machine's id and name. No
//! key, token, prompt, path or host detail is ever written here.
//!
//! Rows are keyed by machine id plus the event's key on that machine, so a batch sent
//! twice (a retry, a push interrupted after the commit) changes nothing. Beside the
//! events, `clown_usage_rollup` holds per machine, 15-minute bucket, profile and model
//! what the events add up to, adjusted in the same transaction as they are, so reports
//! never scan events.

pub mod push;
pub mod report;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Client;

#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("invalid [sync] url: {0}")]
    Url(String),
    #[error("cannot read sync.ca_file {path}: {message}")]
    Ca { path: String, message: String },
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("the shared database did not answer within {0:?}")]
    Timeout(Duration),
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects and makes sure the schema exists. The connection's driver runs as a task;
/// when it ends (the server went away) the client's calls fail and the caller
/// reconnects.
pub async fn connect(url: &str, ca_file: Option<&Path>) -> Result<Client, SharedError> {
    let mut config: tokio_postgres::Config = libpq_sslmodes(url)
        .parse()
        .map_err(|e: tokio_postgres::Error| SharedError::Url(e.to_string()))?;
    config.connect_timeout(CONNECT_TIMEOUT);
    config.application_name("clown");
    let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(ca_file)?);
    let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, config.connect(tls))
        .await
        .map_err(|_| SharedError::Timeout(CONNECT_TIMEOUT))??;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("shared database connection ended: {e}");
        }
    });
    ensure_schema(&client).await?;
    Ok(client)
}

/// libpq's `verify-ca` and `verify-full` as `require`: with rustls the certificate and the
/// host name are always verified once TLS is on.
fn libpq_sslmodes(url: &str) -> String {
    url.replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require")
}

fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, SharedError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let ca_err = |message: String| SharedError::Ca {
            path: path.display().to_string(),
            message,
        };
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| ca_err(e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ca_err(e.to_string()))?;
        if certs.is_empty() {
            return Err(ca_err("no PEM certificate in it".into()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| SharedError::Url(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Creates the tables once; daemons starting together wait on an advisory lock instead
/// of racing on the catalogue.
async fn ensure_schema(client: &Client) -> Result<(), SharedError> {
    client
        .batch_execute(
            "BEGIN;
             SELECT pg_advisory_xact_lock(7478231945);
             CREATE TABLE IF NOT EXISTS clown_machines (
                machine_id text PRIMARY KEY,
                name       text NOT NULL,
                last_push  timestamptz
             );
             CREATE TABLE IF NOT EXISTS clown_usage_events (
                machine_id    text NOT NULL,
                event_key     text NOT NULL,
                ts            bigint NOT NULL,
                profile       text NOT NULL,
                agent         text,
                provider      text,
                model         text NOT NULL,
                input_tokens  bigint NOT NULL,
                output_tokens bigint NOT NULL,
                cache_creation_input_tokens bigint NOT NULL,
                cache_read_input_tokens     bigint NOT NULL,
                cache_creation_1h_tokens    bigint NOT NULL,
                source        text NOT NULL,
                session_id    text,
                PRIMARY KEY (machine_id, event_key)
             );
             CREATE TABLE IF NOT EXISTS clown_usage_rollup (
                machine_id    text NOT NULL,
                bucket        bigint NOT NULL,
                profile       text NOT NULL,
                model         text NOT NULL,
                input_tokens  bigint NOT NULL,
                output_tokens bigint NOT NULL,
                cache_creation_input_tokens bigint NOT NULL,
                cache_read_input_tokens     bigint NOT NULL,
                cache_creation_1h_tokens    bigint NOT NULL,
                events        bigint NOT NULL,
                last_ts       bigint NOT NULL,
                PRIMARY KEY (machine_id, bucket, profile, model)
             );
             CREATE INDEX IF NOT EXISTS clown_usage_rollup_bucket ON clown_usage_rollup (bucket);
             CREATE TABLE IF NOT EXISTS clown_usage_sessions (
                machine_id   text NOT NULL,
                session_key  text NOT NULL,
                profile      text NOT NULL,
                started_at   bigint NOT NULL,
                ended_at     bigint,
                runtime_secs bigint NOT NULL,
                exit_code    integer,
                source       text NOT NULL,
                PRIMARY KEY (machine_id, session_key)
             );
             CREATE INDEX IF NOT EXISTS clown_usage_sessions_started ON clown_usage_sessions (started_at);
             COMMIT;",
        )
        .await?;
    Ok(())
}
