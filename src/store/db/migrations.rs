//! The numbered migrations, tracked in `user_version` by [`super::migrate`].

/// Each entry is one migration; its 1-based position is its version. Never edit a
/// released entry: append a new one.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: profiles and their secrets.
    "CREATE TABLE profiles (
        alias        TEXT PRIMARY KEY,
        agent_id     TEXT NOT NULL,
        provider_id  TEXT NOT NULL,
        endpoint_id  TEXT NOT NULL,
        model        TEXT NOT NULL,
        base_url     TEXT,
        profile_home TEXT NOT NULL,
        proxy        TEXT NOT NULL DEFAULT '{}',
        created_at   TEXT NOT NULL,
        last_used    TEXT
     ) STRICT;
     CREATE INDEX profiles_agent ON profiles(agent_id);
     CREATE TABLE secrets (
        alias       TEXT PRIMARY KEY REFERENCES profiles(alias) ON DELETE CASCADE,
        api_key     TEXT,
        proxy_token TEXT NOT NULL
     ) STRICT;
     CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
     ) STRICT;",
    // 2: usage events (one per model response) and sessions (one per agent run).
    "CREATE TABLE usage_events (
        id            INTEGER PRIMARY KEY,
        ts            INTEGER NOT NULL,
        profile       TEXT NOT NULL,
        agent         TEXT,
        provider      TEXT,
        model         TEXT NOT NULL,
        input_tokens  INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_input_tokens     INTEGER NOT NULL DEFAULT 0,
        source        TEXT NOT NULL,
        session_id    TEXT,
        dedupe_key    TEXT UNIQUE
     ) STRICT;
     CREATE INDEX usage_events_ts ON usage_events(ts);
     CREATE TABLE usage_sessions (
        id           INTEGER PRIMARY KEY,
        profile      TEXT NOT NULL,
        started_at   INTEGER NOT NULL,
        ended_at     INTEGER,
        runtime_secs INTEGER NOT NULL DEFAULT 0,
        exit_code    INTEGER,
        source       TEXT NOT NULL,
        session_id   TEXT UNIQUE
     ) STRICT;
     CREATE INDEX usage_sessions_started ON usage_sessions(started_at);",
    // 3: a rollup of events per 15-minute bucket, profile and model, kept in step with
    // usage_events in the same transactions, so usage queries never scan events; and the
    // import bookkeeping (how far each transcript file was read).
    "CREATE TABLE usage_rollup (
        bucket        INTEGER NOT NULL,
        profile       TEXT NOT NULL,
        model         TEXT NOT NULL,
        input_tokens  INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_input_tokens INTEGER NOT NULL,
        cache_read_input_tokens     INTEGER NOT NULL,
        events        INTEGER NOT NULL,
        last_ts       INTEGER NOT NULL,
        PRIMARY KEY (bucket, profile, model)
     ) WITHOUT ROWID, STRICT;
     INSERT INTO usage_rollup
        SELECT ts / 900, profile, model, SUM(input_tokens), SUM(output_tokens),
               SUM(cache_creation_input_tokens), SUM(cache_read_input_tokens), COUNT(*), MAX(ts)
        FROM usage_events GROUP BY 1, 2, 3;
     CREATE TABLE import_files (
        path     TEXT PRIMARY KEY,
        size     INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        offset   INTEGER NOT NULL,
        profile  TEXT NOT NULL
     ) STRICT;",
    // 4: the part of the cache writes made with a one-hour lifetime, which Anthropic bills
    // at a higher rate than five-minute writes (a subset of cache_creation_input_tokens).
    "ALTER TABLE usage_events ADD COLUMN cache_creation_1h_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_rollup ADD COLUMN cache_creation_1h_tokens INTEGER NOT NULL DEFAULT 0;",
    // 5: usage per local calendar day, profile and model (every period is whole days, so
    // reports read this); filled from usage_rollup by `daily::sync_zone`.
    "CREATE TABLE usage_daily (
        day           TEXT NOT NULL,
        profile       TEXT NOT NULL,
        model         TEXT NOT NULL,
        input_tokens  INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_input_tokens INTEGER NOT NULL,
        cache_read_input_tokens     INTEGER NOT NULL,
        cache_creation_1h_tokens    INTEGER NOT NULL,
        events        INTEGER NOT NULL,
        last_ts       INTEGER NOT NULL,
        PRIMARY KEY (day, profile, model)
     ) WITHOUT ROWID, STRICT;",
    // 6: a profile's sandbox settings (whether its agent runs confined), as JSON.
    "ALTER TABLE profiles ADD COLUMN sandbox TEXT NOT NULL DEFAULT '{}';",
    // 7: how a profile authenticates: 'key' (an API key), 'token' (a subscription's
    // long-lived OAuth token, kept in secrets.api_key like a key) or 'login' (the agent's
    // own login, whose state lives in the profile home).
    "ALTER TABLE profiles ADD COLUMN auth TEXT NOT NULL DEFAULT 'key';",
    // 8: the provider's rate-limit headers a proxy saw (Anthropic's
    // anthropic-ratelimit-unified-* family, retry-after on 429), one row per distinct
    // state per profile: a repeat of the same headers only moves last_seen.
    "CREATE TABLE limit_snapshots (
        id          INTEGER PRIMARY KEY,
        profile     TEXT NOT NULL,
        provider    TEXT NOT NULL,
        first_seen  INTEGER NOT NULL,
        last_seen   INTEGER NOT NULL,
        http_status INTEGER NOT NULL,
        headers     TEXT NOT NULL
     ) STRICT;
     CREATE INDEX limit_snapshots_profile ON limit_snapshots(profile, id);",
    // 9: the shared setup (MCP servers, permissions, hooks, status line, instructions, …)
    // as one JSON document, and per profile what its last projection wrote into each
    // file of its home (the keys and values), from which drift is seen.
    "CREATE TABLE shared_setup (
        id         INTEGER PRIMARY KEY CHECK (id = 1),
        doc        TEXT NOT NULL,
        updated_at TEXT NOT NULL
     ) STRICT;
     CREATE TABLE setup_projections (
        profile      TEXT NOT NULL REFERENCES profiles(alias) ON DELETE CASCADE,
        file         TEXT NOT NULL,
        format       TEXT NOT NULL,
        entries      TEXT NOT NULL,
        projected_at TEXT NOT NULL,
        PRIMARY KEY (profile, file)
     ) STRICT;",
    // 10: directories bound to a profile (`clown bind`): the `.clown-profile` file in the
    // directory decides; this lists the bindings made or found.
    "CREATE TABLE bindings (
        dir        TEXT PRIMARY KEY,
        profile    TEXT NOT NULL,
        created_at TEXT NOT NULL
     ) STRICT;",
    // 11: all-time totals per profile, agent, provider and model (what /metrics serves, kept with the
    // rollups), and a change number on events and sessions, so a push to the shared
    // database resumes after the last change it sent (a replaced event gets a new one).
    "CREATE TABLE usage_totals (
        profile       TEXT NOT NULL,
        agent         TEXT NOT NULL,
        provider      TEXT NOT NULL,
        model         TEXT NOT NULL,
        input_tokens  INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_input_tokens INTEGER NOT NULL,
        cache_read_input_tokens     INTEGER NOT NULL,
        cache_creation_1h_tokens    INTEGER NOT NULL,
        events        INTEGER NOT NULL,
        last_ts       INTEGER NOT NULL,
        rev           INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (profile, agent, provider, model)
     ) WITHOUT ROWID, STRICT;
     INSERT INTO usage_totals (profile, agent, provider, model, input_tokens, output_tokens,
            cache_creation_input_tokens, cache_read_input_tokens, cache_creation_1h_tokens, events, last_ts)
        SELECT profile, COALESCE(agent, ''), COALESCE(provider, ''), model,
               CAST(MIN(TOTAL(input_tokens), 9223372036854775807.0) AS INTEGER),
               CAST(MIN(TOTAL(output_tokens), 9223372036854775807.0) AS INTEGER),
               CAST(MIN(TOTAL(cache_creation_input_tokens), 9223372036854775807.0) AS INTEGER),
               CAST(MIN(TOTAL(cache_read_input_tokens), 9223372036854775807.0) AS INTEGER),
               CAST(MIN(TOTAL(cache_creation_1h_tokens), 9223372036854775807.0) AS INTEGER),
               COUNT(*), MAX(ts)
        FROM usage_events GROUP BY 1, 2, 3, 4;
     CREATE INDEX usage_totals_rev ON usage_totals(rev);
     ALTER TABLE usage_events ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
     UPDATE usage_events SET rev = id;
     CREATE INDEX usage_events_rev ON usage_events(rev);
     ALTER TABLE usage_sessions ADD COLUMN rev INTEGER NOT NULL DEFAULT 0;
     UPDATE usage_sessions SET rev = id;
     CREATE INDEX usage_sessions_rev ON usage_sessions(rev);
     CREATE TRIGGER usage_sessions_rev_insert AFTER INSERT ON usage_sessions BEGIN
        UPDATE usage_sessions SET rev = (SELECT MAX(rev) FROM usage_sessions) + 1 WHERE id = NEW.id;
     END;
     CREATE TRIGGER usage_sessions_rev_update
        AFTER UPDATE OF profile, started_at, ended_at, runtime_secs, exit_code ON usage_sessions BEGIN
        UPDATE usage_sessions SET rev = (SELECT MAX(rev) FROM usage_sessions) + 1 WHERE id = NEW.id;
     END;",
    // 12: usage of every agent. Events become compact: the key is a 64-bit hash of the
    // dedupe key (the row id: no separate index), the names one shared label row; the
    // view `usage_events` shows them as before. Reasoning output and the counts of
    // long-context requests are kept in the rollups; `usage_replays` links the copies an
    // agent writes of one response; each imported file keeps its agent, its inode and a
    // hash of the bytes before its mark (a file replaced or rewritten under the same name
    // is read from its start) and the state a reader carries between reads. Claude transcripts are read again once: their events
    // are keyed on (message id, request id) now, and each stored one takes its new key
    // when its line is seen (`supersedes`), so nothing is counted twice and responses
    // that shared an id are counted apart.
    "CREATE TABLE usage_labels (
        id         INTEGER PRIMARY KEY,
        profile    TEXT NOT NULL,
        agent      TEXT NOT NULL,
        provider   TEXT NOT NULL,
        model      TEXT NOT NULL,
        source     TEXT NOT NULL,
        session_id TEXT NOT NULL,
        UNIQUE (profile, agent, provider, model, source, session_id)
     ) STRICT;
     CREATE TABLE usage_raw (
        key   INTEGER PRIMARY KEY,
        ts    INTEGER NOT NULL,
        label INTEGER NOT NULL,
        input_tokens  INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_input_tokens INTEGER NOT NULL,
        cache_read_input_tokens     INTEGER NOT NULL,
        cache_creation_1h_tokens    INTEGER NOT NULL,
        reasoning_output_tokens     INTEGER NOT NULL,
        rev   INTEGER NOT NULL DEFAULT 0
     ) STRICT;
     INSERT OR IGNORE INTO usage_labels (profile, agent, provider, model, source, session_id)
        SELECT DISTINCT profile, IFNULL(agent, ''), IFNULL(provider, ''), model, source, IFNULL(session_id, '')
        FROM usage_events;
     INSERT OR IGNORE INTO usage_raw
        SELECT usage_key(IFNULL(e.dedupe_key, 'row:' || e.id)), e.ts, l.id, e.input_tokens, e.output_tokens,
               e.cache_creation_input_tokens, e.cache_read_input_tokens, e.cache_creation_1h_tokens, 0, e.rev
        FROM usage_events e JOIN usage_labels l
          ON l.profile = e.profile AND l.agent = IFNULL(e.agent, '') AND l.provider = IFNULL(e.provider, '')
         AND l.model = e.model AND l.source = e.source AND l.session_id = IFNULL(e.session_id, '');
     DROP TABLE usage_events;
     CREATE VIEW usage_events AS
        SELECT r.key AS id, r.ts, l.profile, NULLIF(l.agent, '') AS agent, NULLIF(l.provider, '') AS provider,
               l.model, r.input_tokens, r.output_tokens, r.cache_creation_input_tokens,
               r.cache_read_input_tokens, l.source, NULLIF(l.session_id, '') AS session_id,
               r.cache_creation_1h_tokens, r.reasoning_output_tokens, r.rev
        FROM usage_raw r JOIN usage_labels l ON l.id = r.label;
     CREATE INDEX usage_raw_rev ON usage_raw(rev);
     CREATE TABLE usage_replays (
        grp  INTEGER NOT NULL,
        key  INTEGER NOT NULL,
        copy INTEGER NOT NULL,
        PRIMARY KEY (grp, key)
     ) WITHOUT ROWID, STRICT;
     ALTER TABLE usage_rollup ADD COLUMN reasoning_output_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_rollup ADD COLUMN lc_input_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_rollup ADD COLUMN lc_output_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_rollup ADD COLUMN lc_cache_creation_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_rollup ADD COLUMN lc_cache_read_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_daily ADD COLUMN reasoning_output_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_daily ADD COLUMN lc_input_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_daily ADD COLUMN lc_output_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_daily ADD COLUMN lc_cache_creation_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_daily ADD COLUMN lc_cache_read_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE import_files ADD COLUMN agent TEXT NOT NULL DEFAULT 'claude';
     ALTER TABLE import_files ADD COLUMN state TEXT;
     ALTER TABLE import_files ADD COLUMN inode INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE import_files ADD COLUMN tail INTEGER NOT NULL DEFAULT 0;
     UPDATE import_files SET size = -1, mtime_ns = -1, offset = 0;",
    // 13: budgets (per profile or '@all', daily or monthly, in USD and/or a share of a
    // provider window), the alerts already given per budget period (each threshold
    // once), and where a limit snapshot came from ('proxy' headers, or the 'statusline'
    // rate_limits an agent passes to its status-line command).
    "CREATE TABLE budgets (
        scope          TEXT NOT NULL,
        period         TEXT NOT NULL,
        limit_usd      REAL,
        window         TEXT,
        window_percent REAL,
        hard_stop      INTEGER NOT NULL DEFAULT 0,
        updated_at     TEXT NOT NULL,
        PRIMARY KEY (scope, period)
     ) STRICT;
     CREATE TABLE budget_alerts (
        scope     TEXT NOT NULL,
        period    TEXT NOT NULL,
        period_id TEXT NOT NULL,
        threshold INTEGER NOT NULL,
        at        INTEGER NOT NULL,
        PRIMARY KEY (scope, period, period_id, threshold)
     ) WITHOUT ROWID, STRICT;
     ALTER TABLE limit_snapshots ADD COLUMN source TEXT NOT NULL DEFAULT 'proxy';",
    // 14: terminal sessions as records, so a restarted daemon finds them again and the
    // interrupted ones can be resumed; the events of a conversation (an agent's session
    // id) found through their label.
    "CREATE TABLE terminal_sessions (
        id              TEXT PRIMARY KEY,
        profile         TEXT NOT NULL REFERENCES profiles(alias) ON DELETE CASCADE,
        agent_id        TEXT NOT NULL,
        cwd             TEXT NOT NULL,
        args            TEXT NOT NULL DEFAULT '[]',
        created_at      TEXT NOT NULL,
        started_at      INTEGER NOT NULL,
        pid             INTEGER NOT NULL,
        holder_pid      INTEGER NOT NULL,
        cols            INTEGER NOT NULL,
        rows            INTEGER NOT NULL,
        state           TEXT NOT NULL,
        exit_code       INTEGER,
        ended_at        INTEGER,
        attention       TEXT NOT NULL DEFAULT 'idle',
        attention_since INTEGER NOT NULL DEFAULT 0,
        hooked          INTEGER NOT NULL DEFAULT 0,
        conversation_id TEXT,
        worktree        TEXT
     ) STRICT;
     CREATE INDEX terminal_sessions_state ON terminal_sessions(state);
     CREATE INDEX usage_labels_session ON usage_labels(session_id);
     CREATE INDEX usage_raw_label ON usage_raw(label);",
    // 15: a profile's key pool: more keys or subscription tokens (each may name its own
    // provider, endpoint, base URL and model), tried by priority; secrets like `secrets`.
    "CREATE TABLE pool_keys (
        id          INTEGER PRIMARY KEY,
        profile     TEXT NOT NULL REFERENCES profiles(alias) ON DELETE CASCADE,
        label       TEXT NOT NULL,
        secret      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        priority    INTEGER NOT NULL,
        provider_id TEXT,
        endpoint_id TEXT,
        base_url    TEXT,
        model       TEXT,
        created_at  TEXT NOT NULL,
        UNIQUE (profile, label)
     ) STRICT;",
    // 16: which key of a profile's pool answered a proxy request (its label and last four
    // characters; never the key), kept with the event's other names: the labels table is
    // rebuilt with the two columns in its key, and the view shows them.
    "CREATE TABLE usage_labels_new (
        id         INTEGER PRIMARY KEY,
        profile    TEXT NOT NULL,
        agent      TEXT NOT NULL,
        provider   TEXT NOT NULL,
        model      TEXT NOT NULL,
        source     TEXT NOT NULL,
        session_id TEXT NOT NULL,
        key_label  TEXT NOT NULL DEFAULT '',
        key_hint   TEXT NOT NULL DEFAULT '',
        UNIQUE (profile, agent, provider, model, source, session_id, key_label, key_hint)
     ) STRICT;
     INSERT INTO usage_labels_new (id, profile, agent, provider, model, source, session_id)
        SELECT id, profile, agent, provider, model, source, session_id FROM usage_labels;
     DROP VIEW usage_events;
     DROP TABLE usage_labels;
     ALTER TABLE usage_labels_new RENAME TO usage_labels;
     CREATE INDEX usage_labels_session ON usage_labels(session_id);
     CREATE VIEW usage_events AS
        SELECT r.key AS id, r.ts, l.profile, NULLIF(l.agent, '') AS agent, NULLIF(l.provider, '') AS provider,
               l.model, r.input_tokens, r.output_tokens, r.cache_creation_input_tokens,
               r.cache_read_input_tokens, l.source, NULLIF(l.session_id, '') AS session_id,
               r.cache_creation_1h_tokens, r.reasoning_output_tokens, r.rev,
               NULLIF(l.key_label, '') AS key_label, NULLIF(l.key_hint, '') AS key_hint
        FROM usage_raw r JOIN usage_labels l ON l.id = r.label;",
    // 17: events removed because another took their place (a replayed copy when its
    // original arrives, a response re-keyed), with a change number from the events'
    // sequence, so the push to a shared database removes them there too. The retention's
    // pruning is not listed: the shared database keeps the history a machine drops.
    "CREATE TABLE usage_removed (
        rev INTEGER PRIMARY KEY,
        key INTEGER NOT NULL
     ) STRICT;",
    // 18: a session's change number is set by the statements that write it (one seek for
    // the largest) instead of by triggers that updated each row again after it was
    // written: an import of 20,000 sessions wrote every row twice.
    "DROP TRIGGER usage_sessions_rev_insert;
     DROP TRIGGER usage_sessions_rev_update;",
    // 19: a smaller store (a year of heavy use under 100 MB). Each label keeps the sum of
    // the events ever stored under it (what a conversation's tokens are read from, so
    // they outlive the raw retention), which replaces the index of events by label; the
    // last change number given is kept in `usage_change` instead of being read from an
    // index of events by change number, which only a push to a shared database reads: it
    // exists only while `[sync]` is configured (`store::sync::track_changes`). When the retention drops a label's last
    // event, its sums move to `usage_conversations` (per conversation and model), so a
    // conversation keeps its tokens without the label.
    "ALTER TABLE usage_labels ADD COLUMN input_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_labels ADD COLUMN output_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_labels ADD COLUMN cache_creation_input_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_labels ADD COLUMN cache_read_input_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_labels ADD COLUMN cache_creation_1h_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_labels ADD COLUMN reasoning_output_tokens INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE usage_labels ADD COLUMN events INTEGER NOT NULL DEFAULT 0;
     UPDATE usage_labels SET input_tokens = s.i, output_tokens = s.o, cache_creation_input_tokens = s.cw,
            cache_read_input_tokens = s.cr, cache_creation_1h_tokens = s.c1, reasoning_output_tokens = s.r,
            events = s.n
        FROM (SELECT label,
                     CAST(MIN(TOTAL(input_tokens), 9223372036854775807.0) AS INTEGER) AS i,
                     CAST(MIN(TOTAL(output_tokens), 9223372036854775807.0) AS INTEGER) AS o,
                     CAST(MIN(TOTAL(cache_creation_input_tokens), 9223372036854775807.0) AS INTEGER) AS cw,
                     CAST(MIN(TOTAL(cache_read_input_tokens), 9223372036854775807.0) AS INTEGER) AS cr,
                     CAST(MIN(TOTAL(cache_creation_1h_tokens), 9223372036854775807.0) AS INTEGER) AS c1,
                     CAST(MIN(TOTAL(reasoning_output_tokens), 9223372036854775807.0) AS INTEGER) AS r,
                     COUNT(*) AS n
              FROM usage_raw GROUP BY label) AS s
        WHERE s.label = usage_labels.id;
     CREATE TABLE usage_change (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        last_rev INTEGER NOT NULL
     ) STRICT;
     INSERT INTO usage_change (id, last_rev)
        SELECT 1, MAX((SELECT COALESCE(MAX(rev), 0) FROM usage_raw),
                      (SELECT COALESCE(MAX(rev), 0) FROM usage_totals),
                      (SELECT COALESCE(MAX(rev), 0) FROM usage_removed),
                      (SELECT COALESCE(MAX(CAST(value AS INTEGER)), 0) FROM meta
                        WHERE key = 'sync_events_rev'));
     CREATE TABLE usage_conversations (
        session_id    TEXT NOT NULL,
        model         TEXT NOT NULL,
        input_tokens  INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_creation_input_tokens INTEGER NOT NULL,
        cache_read_input_tokens     INTEGER NOT NULL,
        cache_creation_1h_tokens    INTEGER NOT NULL,
        reasoning_output_tokens     INTEGER NOT NULL,
        events        INTEGER NOT NULL,
        PRIMARY KEY (session_id, model)
     ) WITHOUT ROWID, STRICT;
     DROP INDEX usage_raw_label;
     DROP INDEX usage_raw_rev;",
    // 20: a change number of the profiles' names (alias, agent, provider), moved by triggers:
    // a /metrics scrape reads this one row instead of every profile to notice a change.
    "CREATE TABLE profiles_rev (
        id  INTEGER PRIMARY KEY CHECK (id = 1),
        rev INTEGER NOT NULL
     ) STRICT;
     INSERT INTO profiles_rev (id, rev) VALUES (1, 0);
     CREATE TRIGGER profiles_rev_insert AFTER INSERT ON profiles
        BEGIN UPDATE profiles_rev SET rev = rev + 1; END;
     CREATE TRIGGER profiles_rev_delete AFTER DELETE ON profiles
        BEGIN UPDATE profiles_rev SET rev = rev + 1; END;
     CREATE TRIGGER profiles_rev_update AFTER UPDATE OF alias, agent_id, provider_id ON profiles
        BEGIN UPDATE profiles_rev SET rev = rev + 1; END;",
    // 21: a number per proxy process's dedupe-key prefix, so its events are keyed in time
    // order (`store::usage::row_key`): a batch appends instead of writing a page per event.
    "CREATE TABLE usage_key_prefixes (
        id     INTEGER PRIMARY KEY,
        prefix TEXT NOT NULL UNIQUE
     ) STRICT;",
    // 22: the import marks keyed on the path alone (no row id beside it): each file's mark
    // was written twice, once in the table and once in the index of its path, the largest
    // share of an import of tens of thousands of small files (Droid's sessions).
    "CREATE TABLE import_files_new (
        path     TEXT PRIMARY KEY,
        size     INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        offset   INTEGER NOT NULL,
        profile  TEXT NOT NULL,
        agent    TEXT NOT NULL DEFAULT 'claude',
        state    TEXT,
        inode    INTEGER NOT NULL DEFAULT 0,
        tail     INTEGER NOT NULL DEFAULT 0
     ) WITHOUT ROWID, STRICT;
     INSERT INTO import_files_new (path, size, mtime_ns, offset, profile, agent, state, inode, tail)
        SELECT path, size, mtime_ns, offset, profile, agent, state, inode, tail FROM import_files;
     DROP TABLE import_files;
     ALTER TABLE import_files_new RENAME TO import_files;",
    // 23: a smaller store, again (see `super::migration_compact`).
    super::migration_compact::COMPACT_USAGE,
];
