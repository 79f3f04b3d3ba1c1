//! Agents' own logins (subscriptions): how each agent logs in, which variables a login
//! profile's launch carries, the long-lived token an agent can take instead of a login,
//! and what the agent's files in a profile home say about the login (who, which plan,
//! until when), read without ever returning a token.
//!
//! What each agent keeps, relative to its home (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`,
//! `GEMINI_CLI_HOME`, `QWEN_HOME`, `FACTORY_HOME_OVERRIDE`, opencode's config dir):
//! - Claude Code: `.credentials.json` `{claudeAiOauth: {subscriptionType, rateLimitTier,
//!   expiresAt (ms, the access token), refreshTokenExpiresAt (ms, the end of the login)}}`;
//!   `CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR` names a descriptor it reads a token from.
//! - Codex CLI: `auth.json` `{auth_mode, tokens: {id_token (JWT: email, plan), access_token
//!   (JWT: exp)}, last_refresh}`; no end date.
//! - Gemini CLI: `.gemini/oauth_creds.json` (`refresh_token`, `expiry_date` of the access
//!   token) and `.gemini/google_accounts.json` (`active`: the e-mail).
//! - Qwen Code: `oauth_creds.json` (same shape); its free OAuth ended on 2026-04-15.
//! - Droid: `.factory/auth.v2.file` (encrypted; presence only), with the keyring disabled.
//! - opencode: `data/opencode/auth.json` (`XDG_DATA_HOME` moved into the home), one entry
//!   per provider, `type: "oauth"` with `expires` (ms, the access token).

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

/// The variables through which an agent takes a long-lived login token.
#[derive(Debug, Clone, Copy)]
pub struct TokenVars {
    /// Names a descriptor the agent reads the token from (kept out of the environment).
    pub fd_env: &'static str,
    /// The plain variable, for where no descriptor can be handed over (`profiles env`).
    pub env: &'static str,
}

/// How one agent logs in.
#[derive(Debug)]
pub struct LoginSpec {
    pub agent: &'static str,
    /// Arguments to the agent's binary that start its login.
    pub args: &'static [&'static str],
    /// Variables of the login run and of every launch of a login profile; `{home}` is
    /// the profile home.
    pub env: &'static [(&'static str, &'static str)],
    pub token: Option<TokenVars>,
    /// What the user does, in a sentence.
    pub how: &'static str,
}

const SPECS: &[LoginSpec] = &[
    LoginSpec {
        agent: "claude",
        args: &["auth", "login"],
        env: &[],
        token: Some(TokenVars {
            fd_env: "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR",
            env: "CLAUDE_CODE_OAUTH_TOKEN",
        }),
        how: "claude auth login: open the link it prints, sign in with your Claude subscription and paste the code back",
    },
    LoginSpec {
        agent: "codex",
        args: &["login"],
        env: &[],
        token: None,
        how: "codex login: sign in with ChatGPT in the browser it opens (add --device-auth when the browser is on another machine)",
    },
    LoginSpec {
        agent: "gemini",
        args: &[],
        env: &[("NO_BROWSER", "true")],
        token: None,
        how: "Gemini CLI signs in at its first start (Login with Google): open the link, paste the code, then quit it",
    },
    LoginSpec {
        agent: "qwen",
        args: &["auth"],
        env: &[],
        token: None,
        how: "qwen auth: choose the method (Qwen OAuth ended on 2026-04-15; coding-plan stores an Alibaba Cloud Coding Plan key)",
    },
    LoginSpec {
        agent: "droid",
        args: &[],
        env: &[("FACTORY_DISABLE_KEYRING", "1")],
        token: None,
        how: "type /login in droid and sign in in the browser, then quit it",
    },
    LoginSpec {
        agent: "opencode",
        args: &["auth", "login"],
        env: &[("XDG_DATA_HOME", "{home}/data")],
        token: None,
        how: "opencode auth login: choose a provider with a subscription login (ChatGPT Plus/Pro, Copilot, …)",
    },
];

/// The login of `agent_id`, if it has one (Grok CLI has none).
pub fn spec(agent_id: &str) -> Option<&'static LoginSpec> {
    SPECS.iter().find(|s| s.agent == agent_id)
}

/// The login run's and a login profile's extra variables for `home`.
pub fn env(spec: &LoginSpec, home: &Path) -> Vec<(String, String)> {
    spec.env
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                v.replace("{home}", &home.display().to_string()),
            )
        })
        .collect()
}

/// What an agent's files say about its login. No token ever goes in here.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoginStatus {
    pub logged_in: bool,
    /// The file it was read from, relative to the profile home.
    pub file: &'static str,
    /// How: `claude.ai`, `chatgpt`, `apikey`, `google`, a provider list …
    pub method: Option<String>,
    pub account: Option<String>,
    pub plan: Option<String>,
    /// When the login itself ends, where the files say so.
    pub until: Option<String>,
    /// When the current access token expires (the agent renews it by itself).
    pub access_expires_at: Option<String>,
    pub last_refresh: Option<String>,
    pub note: Option<String>,
}

fn read_json(path: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

fn str_of(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(String::from)
}

/// A time in milliseconds (or seconds, when small) since the epoch, as RFC 3339 (whole
/// seconds, cut down: the agents show the same instant with its milliseconds).
fn epoch_time(v: &Value) -> Option<String> {
    let n = v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))?;
    let secs = if n > 100_000_000_000 {
        n.div_euclid(1000)
    } else {
        n
    };
    Some(crate::time::rfc3339(
        jiff::Timestamp::from_second(secs).ok()?,
    ))
}

/// The login state of `agent_id` in `home`, or `None` for an agent without a login.
pub fn status(agent_id: &str, home: &Path) -> Option<LoginStatus> {
    Some(match agent_id {
        "claude" => claude(home),
        "codex" => codex(home),
        "gemini" => google(home, ".gemini/oauth_creds.json", "google"),
        "qwen" => google(home, "oauth_creds.json", "qwen-oauth"),
        "droid" => {
            let file = ".factory/auth.v2.file";
            LoginStatus {
                logged_in: home.join(file).is_file(),
                file,
                note: Some("Droid keeps its login encrypted: no details".into()),
                ..Default::default()
            }
        }
        "opencode" => opencode(home),
        _ => return None,
    })
}

fn claude(home: &Path) -> LoginStatus {
    let file = ".credentials.json";
    let mut st = LoginStatus {
        file,
        ..Default::default()
    };
    let Some(doc) = read_json(&home.join(file)) else {
        return st;
    };
    let oauth = &doc["claudeAiOauth"];
    st.logged_in = oauth["accessToken"].as_str().is_some_and(|t| !t.is_empty())
        || oauth["refreshToken"]
            .as_str()
            .is_some_and(|t| !t.is_empty());
    if !st.logged_in {
        return st;
    }
    st.method = Some("claude.ai".into());
    st.plan =
        str_of(&oauth["subscriptionType"]).map(|plan| match str_of(&oauth["rateLimitTier"]) {
            Some(tier) => format!("{plan} ({tier})"),
            None => plan,
        });
    st.access_expires_at = epoch_time(&oauth["expiresAt"]);
    st.until = epoch_time(&oauth["refreshTokenExpiresAt"]);
    if st.until.is_none() {
        st.note = Some(
            "the files give no end date: Claude logins last about 30 days from sign-in".into(),
        );
    }
    st.account = read_json(&home.join(".claude.json"))
        .and_then(|c| str_of(&c["oauthAccount"]["emailAddress"]));
    st
}

/// The claims of a JWT (its middle part), unverified: only for display.
fn jwt_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    serde_json::from_slice(&base64url(payload)?).ok()
}

/// Decodes unpadded (or padded) base64url.
fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn codex(home: &Path) -> LoginStatus {
    let file = "auth.json";
    let mut st = LoginStatus {
        file,
        ..Default::default()
    };
    let Some(doc) = read_json(&home.join(file)) else {
        return st;
    };
    let tokens = &doc["tokens"];
    let has_key = doc["OPENAI_API_KEY"]
        .as_str()
        .is_some_and(|k| !k.is_empty());
    st.logged_in =
        has_key || tokens["refresh_token"].is_string() || tokens["access_token"].is_string();
    if !st.logged_in {
        return st;
    }
    st.method =
        str_of(&doc["auth_mode"]).or(Some(if has_key { "apikey" } else { "chatgpt" }.into()));
    if let Some(claims) = tokens["id_token"].as_str().and_then(jwt_claims) {
        st.account = str_of(&claims["email"]);
        st.plan = str_of(&claims["https://api.openai.com/auth"]["chatgpt_plan_type"]);
    }
    st.access_expires_at = tokens["access_token"]
        .as_str()
        .and_then(jwt_claims)
        .and_then(|c| epoch_time(&c["exp"]));
    st.last_refresh = str_of(&doc["last_refresh"]);
    st.note = Some("Codex renews its login itself; the files give no end date".into());
    st
}

fn google(home: &Path, file: &'static str, method: &str) -> LoginStatus {
    let mut st = LoginStatus {
        file,
        ..Default::default()
    };
    let Some(doc) = read_json(&home.join(file)) else {
        return st;
    };
    st.logged_in = doc["refresh_token"].as_str().is_some_and(|t| !t.is_empty());
    if st.logged_in {
        st.method = Some(method.into());
        st.access_expires_at = epoch_time(&doc["expiry_date"]);
        st.account = read_json(&home.join(".gemini/google_accounts.json"))
            .filter(|_| method == "google")
            .and_then(|a| str_of(&a["active"]));
        st.note = Some("the refresh token has no stated end".into());
    }
    st
}

fn opencode(home: &Path) -> LoginStatus {
    let file = "data/opencode/auth.json";
    let mut st = LoginStatus {
        file,
        ..Default::default()
    };
    let Some(doc) = read_json(&home.join(file)) else {
        return st;
    };
    let Some(entries) = doc.as_object() else {
        return st;
    };
    let oauth: Vec<&String> = entries
        .iter()
        .filter(|(_, v)| v["type"] == "oauth")
        .map(|(k, _)| k)
        .collect();
    st.logged_in = !oauth.is_empty();
    if st.logged_in {
        st.method = Some(
            oauth
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
        st.access_expires_at = entries
            .values()
            .filter_map(|v| v["expires"].as_i64())
            .min()
            .and_then(|ms| epoch_time(&Value::from(ms)));
    }
    st
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn home(name: &str) -> std::path::PathBuf {
        let h = std::env::temp_dir().join(format!("clown-login-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&h);
        std::fs::create_dir_all(&h).unwrap();
        h
    }

    #[test]
    fn claude_status_tells_plan_and_end_never_the_token() {
        let h = home("claude");
        assert!(!status("claude", &h).unwrap().logged_in);
        std::fs::write(
            h.join(".credentials.json"),
            json!({"claudeAiOauth": {"accessToken": "sk-ant-oat01-SECRET", "refreshToken": "sk-ant-ort01-SECRET",
                "expiresAt": 1_797_000_000_000i64, "refreshTokenExpiresAt": 1_798_000_000_000i64,
                "subscriptionType": "max", "rateLimitTier": "default_claude_max_5x"}})
            .to_string(),
        )
        .unwrap();
        let st = status("claude", &h).unwrap();
        assert!(st.logged_in);
        assert_eq!(st.plan.as_deref(), Some("max (default_claude_max_5x)"));
        assert_eq!(st.until.as_deref(), Some("2026-12-23T04:26:40Z"));
        assert!(!serde_json::to_string(&st).unwrap().contains("SECRET"));
        std::fs::remove_dir_all(&h).unwrap();
    }

    #[test]
    fn codex_claims_from_the_id_token() {
        let h = home("codex");
        let claims =
            json!({"email": "a@b.c", "https://api.openai.com/auth": {"chatgpt_plan_type": "plus"}});
        let b64 = |v: &Value| {
            const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let bytes = v.to_string().into_bytes();
            let mut out = String::new();
            for chunk in bytes.chunks(3) {
                let n = chunk.iter().fold(0u32, |a, b| (a << 8) | u32::from(*b))
                    << (8 * (3 - chunk.len()));
                for i in 0..=chunk.len() {
                    out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        };
        let jwt = format!("e30.{}.sig", b64(&claims));
        std::fs::write(
            h.join("auth.json"),
            json!({"auth_mode": "chatgpt", "tokens": {"id_token": jwt, "refresh_token": "r"}, "last_refresh": "2026-11-01T00:00:00Z"}).to_string(),
        )
        .unwrap();
        let st = status("codex", &h).unwrap();
        assert!(st.logged_in);
        assert_eq!(st.account.as_deref(), Some("a@b.c"));
        assert_eq!(st.plan.as_deref(), Some("plus"));
        assert_eq!(st.method.as_deref(), Some("chatgpt"));
        std::fs::remove_dir_all(&h).unwrap();
    }

    #[test]
    fn base64url_decodes() {
        assert_eq!(base64url("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64url("aGk_").unwrap(), [0x68, 0x69, 0x3f]);
        assert!(base64url("a*b").is_none());
        assert!(status("grok", Path::new("/")).is_none());
    }
}
