//! Human views of a world: an SVG map and a plain-text report.
//!
//! Neither feeds back into the world or its hash; both are pure functions of
//! the world, so the same world always renders the same bytes.

use std::fmt::Write as _;

use crate::world::{
    Faction, FactionKind, GalaxyShape, Mention, StarSystem, Visibility, World, player_slot,
};

/// World units per SVG pixel at the default width.
const LEGEND_WIDTH: i64 = 1100;
const MARGIN: i64 = 160;
const TITLE_HEIGHT: i64 = 170;

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// How prominent a system is on the map: its riches and its connections.
fn importance(system: &StarSystem, lanes: usize) -> i64 {
    i64::from(system.resource_value()) + 6 * lanes as i64
}

fn shape_label(shape: GalaxyShape) -> String {
    match shape {
        GalaxyShape::Spiral { arms } => format!("spiral, {arms} arms"),
        GalaxyShape::Disc => "disc".to_string(),
        GalaxyShape::Clusters { count } => format!("{count} clusters"),
    }
}

fn settings_line(world: &World) -> String {
    let s = &world.settings;
    format!(
        "seed {} · {} players · {} galaxy · {} · {} · generator {}",
        world.seed,
        s.players(),
        s.galaxy(),
        s.difficulty(),
        s.mode(),
        s.generator_version()
    )
}

/// Renders the galaxy as an SVG map: hyperlanes, systems sized by importance,
/// faction territory in its colours, marked player homes and NPC capitals,
/// readable names and a legend.
pub fn svg(world: &World) -> String {
    let g = &world.galaxy;
    let r = i64::from(g.radius) + MARGIN;
    let (x0, y0) = (-r, -r - TITLE_HEIGHT);
    let map_width = 2 * r;
    let width = map_width + LEGEND_WIDTH;
    let height = (2 * r + TITLE_HEIGHT).max(TITLE_HEIGHT + 60 * world.factions.len() as i64 + 200);
    // About 0.4 pixels per unit, within sensible bounds.
    let px_width = (width * 2 / 5).clamp(1000, 3200);
    let px_height = px_width * height / width;
    let adjacency = g.adjacency();
    let mut out = String::with_capacity(64 * 1024);
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0} {y0} {width} {height}" width="{px_width}" height="{px_height}" font-family="'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif">"##
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&world.name));
    out.push_str(
        r##"<defs>
<radialGradient id="space" cx="50%" cy="50%" r="75%"><stop offset="0%" stop-color="#1b2142"/><stop offset="55%" stop-color="#0d1028"/><stop offset="100%" stop-color="#05060f"/></radialGradient>
<radialGradient id="glow"><stop offset="0%" stop-color="#ffffff" stop-opacity="0.55"/><stop offset="100%" stop-color="#ffffff" stop-opacity="0"/></radialGradient>
</defs>
"##,
    );
    let _ = writeln!(
        out,
        r##"<rect x="{x0}" y="{y0}" width="{width}" height="{height}" fill="url(#space)"/>"##
    );

    // Title.
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" font-size="84" font-weight="bold" fill="#f0f3ff">{}</text>"##,
        x0 + 60,
        y0 + 100,
        escape(&title_case(&world.name))
    );
    let _ = writeln!(
        out,
        r##"<text x="{}" y="{}" font-size="38" fill="#9aa6c8">{} · {} · {} systems</text>"##,
        x0 + 62,
        y0 + 150,
        escape(&settings_line(world)),
        shape_label(g.shape),
        g.systems.len()
    );

    // Territory: soft discs in the owner's colour.
    out.push_str(r#"<g opacity="0.22">"#);
    for s in &g.systems {
        if let Some(f) = s.owner.and_then(|o| world.faction(o)) {
            let _ = write!(
                out,
                r#"<circle cx="{}" cy="{}" r="150" fill="{}"/>"#,
                s.x, s.y, f.color
            );
        }
    }
    out.push_str("</g>\n");

    // Hyperlanes.
    out.push_str(
        r##"<g stroke="#6f83b8" stroke-width="7" stroke-opacity="0.55" stroke-linecap="round">"##,
    );
    for lane in &g.lanes {
        if let (Some(a), Some(b)) = (world.system(lane.a), world.system(lane.b)) {
            let _ = write!(
                out,
                r#"<line x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
                a.x, a.y, b.x, b.y
            );
        }
    }
    out.push_str("</g>\n");

    // Systems.
    let max_importance = g
        .systems
        .iter()
        .map(|s| importance(s, adjacency[s.id.index()].len()))
        .max()
        .unwrap_or(1)
        .max(1);
    for s in &g.systems {
        let imp = importance(s, adjacency[s.id.index()].len());
        let radius = 12 + 26 * crate::rng::isqrt(imp * 10_000 / max_importance) / 100;
        let owner = s.owner.and_then(|o| world.faction(o));
        let capital_of = world.factions.iter().find(|f| f.capital == s.id);
        let _ = write!(
            out,
            r#"<circle cx="{}" cy="{}" r="{}" fill="url(#glow)"/>"#,
            s.x,
            s.y,
            radius * 3
        );
        let _ = write!(
            out,
            r#"<circle cx="{}" cy="{}" r="{radius}" fill="{}"><title>{}</title></circle>"#,
            s.x,
            s.y,
            s.star.color(),
            escape(&system_tooltip(s, owner))
        );
        match capital_of {
            Some(f) if player_slot(f).is_some() => {
                // Player home: a double ring in the faction colour.
                let _ = write!(
                    out,
                    r#"<circle cx="{}" cy="{}" r="{}" fill="none" stroke="{c}" stroke-width="10"/><circle cx="{}" cy="{}" r="{}" fill="none" stroke="{c}" stroke-width="4"/>"#,
                    s.x,
                    s.y,
                    radius + 16,
                    s.x,
                    s.y,
                    radius + 32,
                    c = f.color
                );
            }
            Some(f) => {
                // NPC capital: a diamond.
                let d = radius + 20;
                let (x, y) = (i64::from(s.x), i64::from(s.y));
                let _ = write!(
                    out,
                    r#"<path d="M{} {}L{} {}L{} {}L{} {}Z" fill="none" stroke="{}" stroke-width="8"/>"#,
                    x,
                    y - d,
                    x + d,
                    y,
                    x,
                    y + d,
                    x - d,
                    y,
                    f.color
                );
            }
            None => {}
        }
        if s.feature.is_some() {
            let _ = write!(
                out,
                r##"<circle cx="{}" cy="{}" r="{}" fill="none" stroke="#d9b3ff" stroke-width="4" stroke-dasharray="8 8"/>"##,
                s.x,
                s.y,
                radius + 10
            );
        }
    }
    out.push('\n');

    // Names, on top of everything, with a dark halo to stay readable.
    out.push_str(r##"<g text-anchor="middle" stroke="#070916" stroke-width="9" stroke-linejoin="round" paint-order="stroke">"##);
    for s in &g.systems {
        let capital_of = world.factions.iter().find(|f| f.capital == s.id);
        let (size, weight, fill) = match capital_of {
            Some(f) if player_slot(f).is_some() => (46, "bold", f.color.as_str()),
            Some(_) => (40, "bold", "#e9ecf7"),
            None => (32, "normal", "#c9d0e6"),
        };
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" font-size="{size}" font-weight="{weight}" fill="{fill}">{}</text>"#,
            s.x,
            s.y + 78,
            escape(&s.name)
        );
    }
    out.push_str("</g>\n");

    // Legend.
    let lx = x0 + map_width + 40;
    let mut ly = y0 + TITLE_HEIGHT + 40;
    let _ = writeln!(
        out,
        r##"<rect x="{}" y="{}" width="{}" height="{}" rx="24" fill="#0a0d22" fill-opacity="0.85" stroke="#2b3566"/>"##,
        lx - 20,
        ly - 20,
        LEGEND_WIDTH - 60,
        height - TITLE_HEIGHT - 80
    );
    let section = |out: &mut String, ly: &mut i64, title: &str, items: Vec<&Faction>| {
        if items.is_empty() {
            return;
        }
        *ly += 50;
        let _ = writeln!(
            out,
            r##"<text x="{lx}" y="{}" font-size="40" font-weight="bold" fill="#f0f3ff">{title}</text>"##,
            *ly
        );
        for f in items {
            *ly += 56;
            let species = world
                .species_by_id(f.species)
                .map_or("", |s| s.name.as_str());
            let _ = writeln!(
                out,
                r##"<rect x="{lx}" y="{}" width="36" height="36" rx="8" fill="{}"/><text x="{}" y="{}" font-size="32" fill="#dfe4f5">{} <tspan fill="#8d97b8">({}, {})</tspan></text>"##,
                *ly - 30,
                f.color,
                lx + 52,
                *ly,
                escape(&title_case(&f.name)),
                escape(species),
                escape(world.system(f.capital).map_or("", |s| s.name.as_str()))
            );
        }
    };
    section(
        &mut out,
        &mut ly,
        "Players (home ◎)",
        world.player_factions().collect(),
    );
    ly += 30;
    section(
        &mut out,
        &mut ly,
        "NPC empires (capital ◇)",
        world.npc_empires().collect(),
    );
    ly += 90;
    let _ = writeln!(
        out,
        r##"<text x="{lx}" y="{ly}" font-size="30" fill="#b9a3dd">Dashed ring: precursor ruins, nebula or other wonder</text>"##
    );
    out.push_str("</svg>\n");
    out
}

fn system_tooltip(s: &StarSystem, owner: Option<&Faction>) -> String {
    let mut t = format!("{} ({})", s.name, s.star.label());
    if let Some(f) = owner {
        let _ = write!(t, ", held by {}", f.name);
    }
    if let Some(feature) = s.feature {
        let _ = write!(t, ", {}", feature.label());
    }
    let _ = write!(
        t,
        ", {} planets, value {}",
        s.planets.len(),
        s.resource_value()
    );
    t
}

fn title_case(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// Wraps prose at `width` columns with an indent.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
    out
}

/// Renders a readable plain-text report of the world.
pub fn text(world: &World) -> String {
    let g = &world.galaxy;
    let mut out = String::new();
    let _ = writeln!(out, "{}", title_case(&world.name));
    let _ = writeln!(out, "{}", settings_line(world));
    let _ = writeln!(out, "world hash {}", world.hash());
    let _ = writeln!(
        out,
        "\nGalaxy: {}, {} systems, {} hyperlanes, radius {}",
        shape_label(g.shape),
        g.systems.len(),
        g.lanes.len(),
        g.radius
    );

    let _ = writeln!(out, "\nBackstory");
    for p in &world.backstory.paragraphs {
        out.push_str(&wrap(p, 76, "  "));
        out.push('\n');
    }

    let _ = writeln!(out, "Species");
    for s in &world.species {
        out.push_str(&wrap(&s.description, 76, "  "));
    }

    let _ = writeln!(out, "\nFactions");
    for f in &world.factions {
        let who = match f.kind {
            FactionKind::Player { slot } => format!("player {}", u32::from(slot) + 1),
            FactionKind::NpcEmpire => "NPC empire".to_string(),
        };
        let species = world
            .species_by_id(f.species)
            .map_or("", |s| s.name.as_str());
        let capital = world.system(f.capital).map_or("", |s| s.name.as_str());
        let held = g.systems.iter().filter(|s| s.owner == Some(f.id)).count();
        let _ = writeln!(
            out,
            "  {} [{who}] {species}, {} {}, capital {capital}, {held} {}",
            title_case(&f.name),
            f.ethos.label(),
            f.government.label(),
            if held == 1 { "system" } else { "systems" },
        );
    }

    let _ = writeln!(out, "\nCharacters");
    for c in &world.characters {
        let faction = c
            .faction
            .and_then(|f| world.faction(f))
            .map_or_else(|| "independent".to_string(), |f| f.name.clone());
        let traits: Vec<&str> = c.personality.iter().map(|p| p.label()).collect();
        let _ = writeln!(
            out,
            "  {} {}, {} ({faction}); {}. {}",
            c.name,
            c.title,
            c.role.label(),
            traits.join(", "),
            c.motive_text
        );
    }

    let _ = writeln!(out, "\nHistory");
    for e in &world.history {
        let _ = writeln!(out, "  {:>6} years ago  {}", e.years_ago, e.name);
    }

    let _ = writeln!(out, "\nObjectives");
    for f in world.player_factions() {
        let _ = writeln!(out, "  {}", title_case(&f.name));
        for o in world.objectives.iter().filter(|o| o.faction == f.id) {
            let tag = match o.visibility {
                Visibility::Public => "public",
                Visibility::Secret => "secret",
            };
            let _ = writeln!(out, "    [{tag}] {}", o.description);
        }
    }

    let named = world
        .backstory
        .mentions
        .iter()
        .filter(|m| matches!(m, Mention::Character(_)))
        .count();
    let _ = writeln!(
        out,
        "\n{} backstory paragraphs naming {} world entities ({named} characters).",
        world.backstory.paragraphs.len(),
        world.backstory.mentions.len()
    );
    out
}
