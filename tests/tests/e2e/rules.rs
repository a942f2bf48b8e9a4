//! The alerting and recording rules of `deploy/`, checked without a stack:
//! `promtool check` accepts them and the Prometheus config that loads
//! them, `promtool test rules` passes their unit tests, and every alert
//! carries what an operator needs and is tested both firing and quiet.

use std::collections::BTreeSet;

use serde_norway::Value;

use crate::prometheus::{RULE_FILES, deploy_dir, tool};

/// The unit-test files of the rule files, in the same order.
const TEST_FILES: [&str; 2] = ["alerts_test.yml", "slo_test.yml"];

fn promtool(args: &[&str]) -> Option<String> {
    let promtool = tool("promtool")?;
    let output = std::process::Command::new(promtool)
        .args(args)
        .current_dir(deploy_dir())
        .output()
        .expect("run promtool");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{text}");
    Some(text)
}

#[test]
fn promtool_accepts_the_rules_and_their_unit_tests_pass() {
    let started = std::time::Instant::now();
    let Some(_) = promtool(&[["check", "rules"].as_slice(), &RULE_FILES].concat()) else {
        return;
    };
    promtool(&["check", "config", "prometheus.yml"]);
    promtool(&[["test", "rules"].as_slice(), &TEST_FILES].concat());
    eprintln!("promtool checks and tests took {:?}", started.elapsed());
}

fn yaml(file: &str) -> Value {
    let text = std::fs::read_to_string(deploy_dir().join(file)).expect("rule file");
    serde_norway::from_str(&text).expect("YAML")
}

fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value[key].as_sequence().map_or(&[], Vec::as_slice)
}

#[test]
fn every_alert_is_documented_and_tested_firing_and_quiet() {
    let mut alerts = BTreeSet::new();
    for file in RULE_FILES {
        let rules = yaml(file);
        for rule in list(&rules, "groups").iter().flat_map(|g| list(g, "rules")) {
            let Some(name) = rule["alert"].as_str() else {
                continue;
            };
            let severity = rule["labels"]["severity"].as_str();
            assert!(
                matches!(severity, Some("critical" | "warning")),
                "{file}: {name} needs severity critical or warning"
            );
            for key in ["summary", "description", "dashboard"] {
                assert!(
                    rule["annotations"][key]
                        .as_str()
                        .is_some_and(|s| !s.is_empty()),
                    "{file}: {name} has no {key}"
                );
            }
            alerts.insert(name.to_owned());
        }
    }
    let (mut firing, mut quiet) = (BTreeSet::new(), BTreeSet::new());
    for file in TEST_FILES {
        let tests = yaml(file);
        for case in list(&tests, "tests")
            .iter()
            .flat_map(|t| list(t, "alert_rule_test"))
        {
            let name = case["alertname"].as_str().expect("alertname").to_owned();
            if list(case, "exp_alerts").is_empty() {
                quiet.insert(name);
            } else {
                firing.insert(name);
            }
        }
    }
    assert!(alerts.len() >= 15, "rules not found: {alerts:?}");
    let untested = |seen: &BTreeSet<String>| alerts.difference(seen).cloned().collect::<Vec<_>>();
    assert!(
        untested(&firing).is_empty(),
        "never tested firing: {:?}",
        untested(&firing)
    );
    assert!(
        untested(&quiet).is_empty(),
        "never tested quiet: {:?}",
        untested(&quiet)
    );
    let readme = std::fs::read_to_string(deploy_dir().join("../README.md")).expect("README");
    let undocumented: Vec<_> = alerts
        .iter()
        .filter(|a| !readme.contains(a.as_str()))
        .collect();
    assert!(
        undocumented.is_empty(),
        "README.md's \"Operating it\" does not list {undocumented:?}"
    );
}
