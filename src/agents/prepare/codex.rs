//! Codex CLI's launch: `CODEX_HOME` = the profile home, and in its `config.toml` the keys
//! clown owns — `model`, and either `model_provider = "clown"` with
//! `[model_providers.clown]` (name, base URL, `env_key` = the provider's key variable,
//! `wire_api = "responses"`, the only value current Codex CLI loads), or for the agent's
//! own login OpenAI's default provider with `cli_auth_credentials_store = "file"` (the
//! login stays in the home's `auth.json`, not a keyring shared by every home). The rest
//! of the file — MCP servers, trusted projects, hook trust — is the agent's and stays.

use std::collections::BTreeMap;

use toml_edit::{DocumentMut, Item, Table, value};

use super::{Credential, LaunchError, LaunchInput, files};

const HEADER: &str = "# clown sets model, model_provider and [model_providers.clown] here at every launch;\n# everything else in this file is kept.\n";

pub fn prepare(input: &LaunchInput, env: &mut BTreeMap<String, String>) -> Result<(), LaunchError> {
    env.insert("CODEX_HOME".into(), input.home.display().to_string());
    let key_env = input.provider.key_env.clone();
    if let Credential::Key(key) | Credential::Bearer(key) = input.credential {
        env.insert(key_env.clone(), key.to_string());
    }
    let path = input.home.join("config.toml");
    files::edit_toml(&path, "", |doc| {
        let before = doc.to_string();
        let fresh = doc.as_table().is_empty();
        set_keys(doc, input, &key_env);
        if fresh && let Some(mut key) = doc.as_table_mut().key_mut("model") {
            key.leaf_decor_mut().set_prefix(HEADER);
        }
        (doc.to_string() != before, ())
    })
}

fn set_keys(doc: &mut DocumentMut, input: &LaunchInput, key_env: &str) {
    doc["model"] = value(input.model);
    if input.credential == Credential::OwnLogin {
        if doc.get("model_provider").and_then(Item::as_str) == Some("clown") {
            doc.remove("model_provider");
        }
        if let Some(providers) = doc.get_mut("model_providers").and_then(Item::as_table_mut) {
            providers.remove("clown");
            if providers.is_empty() {
                doc.remove("model_providers");
            }
        }
        doc["cli_auth_credentials_store"] = value("file");
        return;
    }
    doc["model_provider"] = value("clown");
    let mut clown = Table::new();
    clown["name"] = value(input.provider.name.as_str());
    clown["base_url"] = value(input.base_url);
    clown["env_key"] = value(key_env);
    clown["wire_api"] = value("responses");
    let providers = doc.entry("model_providers").or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(true);
        Item::Table(t)
    });
    if !providers.is_table() {
        let mut t = Table::new();
        t.set_implicit(true);
        *providers = Item::Table(t);
    }
    if let Some(t) = providers.as_table_mut() {
        t.insert("clown", Item::Table(clown));
    }
}
