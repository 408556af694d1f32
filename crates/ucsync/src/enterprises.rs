//! `ucsync enterprises`: each enterprise with its ID (what a peer server names to read it; none
//! means no peer reads it) and its connectors, from the configuration or through a server.

use anyhow::Result;
use serde_json::Value;

use crate::Cli;
use crate::remote::Remote;

fn print(cli: &Cli, answer: &Value) {
    if cli.json {
        println!("{answer}");
        return;
    }
    let empty = Vec::new();
    let list = answer["enterprises"].as_array().unwrap_or(&empty);
    println!("{:<20} {:<34} connectors", "enterprise", "id (for peers)");
    for e in list {
        let connectors: Vec<&str> = e["connectors"]
            .as_array()
            .map(|c| c.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        println!(
            "{:<20} {:<34} {}",
            e["name"].as_str().unwrap_or_default(),
            e["id"].as_str().unwrap_or("-"),
            connectors.join(", ")
        );
    }
}

/// `ucsync enterprises` on the configuration (the file, else the one in the store).
pub async fn run(cli: &Cli) -> Result<u8> {
    let config = match crate::configuration::from_file(cli)? {
        Some((_, config)) => config,
        None => {
            let store = crate::open_store(&cli.data_dir).await?;
            crate::configuration::current(cli, None, store.as_ref(), false).await?
        }
    };
    print(cli, &ucsync_server::api::enterprises_json(&config));
    Ok(0)
}

/// `ucsync enterprises` through a server's API.
pub async fn run_remote(cli: &Cli, remote: &Remote) -> Result<u8> {
    let answer = remote.get("/api/v1/enterprises").await?;
    print(cli, &answer);
    Ok(0)
}
