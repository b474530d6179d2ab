//! `serve --demo`: a game master, two players with seats (test-mode
//! money) and a public campaign whose one 24-hour session starts in a
//! minute, so a newcomer opens the play page and plays within two minutes.

use crate::accounts::{AccountError, Accounts, Passwords, Role, TokenKeys};
use crate::campaigns::{self, CampaignVisibility, NewCampaign};
use crate::pricing::PriceBook;
use crate::schedule::ScheduleSpec;
use crate::store::Store;

/// What the demo made.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The campaign.
    pub campaign_id: String,
    /// Its title.
    pub title: String,
    /// When its session starts, Unix ms.
    pub starts_at: i64,
    /// (handle, password) of the game master.
    pub gm: (String, String),
    /// (handle, password) of each player.
    pub players: Vec<(String, String)>,
}

fn random_hex(bytes: usize) -> Result<String, AccountError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| AccountError::Hashing(format!("no randomness: {e}")))?;
    Ok(hex::encode(b))
}

/// Makes the demo accounts, campaign and seats at `now`.
pub async fn set_up(
    store: &Store,
    passwords: &Passwords,
    book: &PriceBook,
    now: i64,
) -> Result<Demo, AccountError> {
    // A suffix keeps repeated demos on one database apart.
    let suffix = random_hex(2)?;
    let keys = TokenKeys::new(&[0; 32]);
    let accounts = Accounts {
        store,
        passwords,
        keys: &keys,
        now,
    };
    let mut made = Vec::new();
    for (name, role) in [
        ("gm", Role::Gm),
        ("ann", Role::Player),
        ("bob", Role::Player),
    ] {
        let handle = format!("demo_{name}_{suffix}");
        let password = random_hex(8)?;
        let hash = passwords.hash(&password).await?;
        let account = accounts
            .create(
                format!("{handle}@demo.startales.dev"),
                handle.clone(),
                hash,
                role,
            )
            .await?;
        made.push((account.id, handle, password));
    }
    let starts_at = (now + 60_000).div_euclid(1_000) * 1_000;
    let start_text = jiff::Timestamp::from_millisecond(starts_at)
        .map_err(|e| AccountError::Hashing(e.to_string()))?
        .to_string();
    let title = format!("Demo: the Lantern Reach {suffix}");
    let campaign = campaigns::create(
        store,
        book,
        &made[0].0,
        NewCampaign {
            title: title.clone(),
            description: "A one-day demo campaign: explore, research and build.".into(),
            settings: serde_json::json!({
                "players": 4, "galaxy": "small", "difficulty": "normal", "mode": "conquest",
                "species_pool": null, "generator_version": "v1"
            }),
            seed: None,
            llm_tier: "ollama".into(),
            min_players: 2,
            visibility: CampaignVisibility::Public,
            schedule: ScheduleSpec::OneShot {
                starts_at: start_text,
                time_zone: "UTC".into(),
            },
        },
        now,
    )
    .await?;
    let row = store
        .campaign(&campaign.id)
        .await?
        .ok_or(AccountError::NotFound)?;
    campaigns::publish(store, &row, now).await?;
    for (id, _, _) in &made[1..] {
        crate::seats::join(
            store,
            &crate::billing::LocalProvider,
            &campaign.id,
            id,
            crate::seats::JoinRequest::default(),
            now,
        )
        .await?;
    }
    let mut logins = made.into_iter().map(|(_, h, p)| (h, p));
    let gm = logins.next().ok_or(AccountError::NotFound)?;
    Ok(Demo {
        campaign_id: campaign.id,
        title,
        starts_at,
        gm,
        players: logins.collect(),
    })
}

/// What to print for the newcomer.
pub fn instructions(d: &Demo, base_url: &str) -> String {
    let at = jiff::Timestamp::from_millisecond(d.starts_at)
        .map(|t| t.strftime("%H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let mut out = format!(
        "\nDemo ready: \"{}\" starts at {at} (in about a minute; its server starts now).\n\
         Play in your browser: {base_url}/play?campaign={}\n",
        d.title, d.campaign_id
    );
    for (h, p) in &d.players {
        out.push_str(&format!("  player       log in as {h} with password {p}\n"));
    }
    out.push_str(&format!(
        "  game master  log in as {} with password {}\n\
         Payments are in test mode: no real money.\n",
        d.gm.0, d.gm.1
    ));
    out
}
