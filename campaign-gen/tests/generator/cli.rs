//! The `campaign-gen` command line, run as a real process.

use std::io::Read as _;
use std::process::{Command, Output, Stdio};

use campaign_gen::{GalaxySize, GameMode, Settings, generate};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_campaign-gen"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn json_output_is_the_canonical_encoding_of_the_library_world() {
    let out = run(&[
        "generate",
        "--seed",
        "42",
        "--players",
        "6",
        "--galaxy",
        "small",
        "--mode",
        "diplomacy",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let settings = Settings::builder()
        .players(6)
        .galaxy(GalaxySize::Small)
        .mode(GameMode::Diplomacy)
        .build()
        .unwrap();
    let mut expected = generate(42, &settings).canonical_json();
    expected.push(b'\n');
    assert_eq!(out.stdout, expected);
}

#[test]
fn hash_output_matches_the_library_hash() {
    let out = run(&[
        "generate",
        "--seed",
        "7",
        "--players",
        "3",
        "--format",
        "hash",
    ]);
    assert!(out.status.success());
    let settings = Settings::builder().players(3).build().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        generate(7, &settings).hash()
    );
}

#[test]
fn svg_output_is_well_formed_and_names_every_system_and_faction() {
    let out = run(&[
        "generate",
        "--seed",
        "5",
        "--players",
        "12",
        "--galaxy",
        "large",
        "--format",
        "svg",
    ]);
    assert!(out.status.success());
    let svg = String::from_utf8(out.stdout).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let settings = Settings::builder()
        .players(12)
        .galaxy(GalaxySize::Large)
        .build()
        .unwrap();
    let world = generate(5, &settings);
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    for s in &world.galaxy.systems {
        assert!(
            texts.contains(&s.name.as_str()),
            "{} is not labelled",
            s.name
        );
    }
    let lines = doc.descendants().filter(|n| n.has_tag_name("line")).count();
    assert_eq!(lines, world.galaxy.lanes.len());
    for f in &world.factions {
        assert!(
            svg.contains(&f.color),
            "{} has no colour on the map",
            f.name
        );
    }
}

#[test]
fn text_output_reports_the_hash_backstory_and_objectives() {
    let out = run(&[
        "generate",
        "--seed",
        "9",
        "--players",
        "2",
        "--mode",
        "exploration",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let settings = Settings::builder()
        .players(2)
        .mode(GameMode::Exploration)
        .build()
        .unwrap();
    let world = generate(9, &settings);
    assert!(text.contains(&world.hash()));
    assert!(text.contains(&world.backstory.paragraphs[0][..30]));
    assert!(text.contains("[secret]"));
}

#[test]
fn output_goes_to_the_named_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("map.svg");
    let out = run(&[
        "generate",
        "--seed",
        "1",
        "--format",
        "svg",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("<svg"));
}

#[test]
fn out_of_range_settings_exit_2_naming_the_field_and_range() {
    let cases: &[(&[&str], &str)] = &[
        (&["--players", "51"], "between 2 and 50"),
        (&["--players", "1"], "between 2 and 50"),
        (&["--players", "lots"], "whole number"),
        (&["--galaxy", "3"], "between 6 and 24"),
        (&["--galaxy", "huge"], "small, medium, large"),
        (
            &["--mode", "siege"],
            "conquest, diplomacy, exploration, survival",
        ),
        (
            &["--difficulty", "nightmare"],
            "story, normal, hard, brutal",
        ),
        (&["--species", "dragon"], "humanoid"),
        (&["--species", "avian,avian"], "avian is listed twice"),
        (&["--generator", "v9"], "v1"),
        (&["--format", "png"], "json"),
        (&["--seed", "-1"], "--seed"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["generate", "--seed", "1"];
        if extra[0] == "--seed" {
            args.truncate(1);
        }
        args.extend_from_slice(extra);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn missing_seed_and_unknown_flags_exit_2() {
    for args in [
        &["generate"][..],
        &["generate", "--seed", "1", "--colour"],
        &["explode"],
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn help_exits_0() {
    let out = run(&["generate", "--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--players"));
}

#[test]
fn an_unwritable_output_file_exits_1_with_the_path() {
    let out = run(&[
        "generate",
        "--seed",
        "1",
        "-o",
        "/nonexistent-dir/x.json",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent-dir/x.json"));
}

#[test]
fn a_reader_closing_the_pipe_early_is_not_a_crash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_campaign-gen"))
        .args([
            "generate",
            "--seed",
            "3",
            "--players",
            "50",
            "--galaxy",
            "large",
            "--format",
            "svg",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // Dropping stdout closes the pipe while the map is still being written.
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"));
}
