//! Model settings of a task (`think`, `hosted_model`, sampling options) and the shorthand
//! list form of `automation.triggers`.

use super::{one, parse, place, places, problems};
use crate::config::{ConfigErrors, PrAction, RepoConfig, Sampling, Think, config_errors_comment};

#[test]
fn think_hosted_model_and_sampling_layer_like_the_other_task_keys() {
    let config = parse(
        "\
automation:
  defaults:
    hosted_model: gpt-oss:120b
    think: low
    temperature: 0.2
    seed: 7
  tasks:
    fix:
      think: false
      top_p: 0.9
      top_k: 20
    review:
      hosted_model: gpt-oss:20b
      think: true
      temperature: 1
",
    );
    let fix = config.task("fix").expect("built-in");
    assert_eq!(fix.think, Some(Think::Off));
    assert_eq!(fix.hosted_model.as_deref(), Some("gpt-oss:120b"));
    assert_eq!(
        fix.sampling,
        Sampling {
            temperature: Some(0.2),
            top_p: Some(0.9),
            top_k: Some(20),
            seed: Some(7),
        }
    );
    let review = config.task("review").expect("built-in");
    assert_eq!(review.think, Some(Think::On));
    assert_eq!(review.sampling.temperature, Some(1.0));
    assert_eq!(review.model_for(true), "gpt-oss:20b");
    assert_eq!(review.model_for(false), "qwen3-coder:30b");
    let docs = config.task("docs").expect("built-in");
    assert_eq!(docs.think, Some(Think::Low));
    assert_eq!(Think::Low.to_json(), serde_json::json!("low"));
    assert_eq!(Think::Off.to_json(), serde_json::json!(false));

    let plain = RepoConfig::default();
    let refactor = plain.task("refactor").expect("built-in");
    assert_eq!(
        (refactor.think, refactor.hosted_model.as_deref()),
        (None, None),
        "nothing is sent unless the file asks"
    );
    assert_eq!(refactor.model_for(true), "qwen3-coder:30b");
}

#[test]
fn bad_model_settings_are_reported_at_their_line_and_field() {
    let text = "\
automation:
  defaults:
    think: max
    temperature: 3
  tasks:
    fix:
      top_p: 1.5
      top_k: 0
      seed: -1
      hosted_model: gpt oss
";
    assert_eq!(
        places(text),
        [
            place(3, "automation.defaults.think"),
            place(4, "automation.defaults.temperature"),
            place(7, "automation.tasks.fix.top_p"),
            place(8, "automation.tasks.fix.top_k"),
            place(9, "automation.tasks.fix.seed"),
            place(10, "automation.tasks.fix.hosted_model"),
        ]
    );
    let errors: ConfigErrors = RepoConfig::parse(text).expect_err("invalid");
    insta::assert_snapshot!("bad_model_settings", config_errors_comment(&errors));
    let ((line, field), message) = one("automation:\n  tasks:\n    fix:\n      think: [low]\n");
    assert_eq!((line, field.as_str()), (4, "automation.tasks.fix.think"));
    assert!(
        message.contains("`true`, `false`, `low`, `medium` or `high`"),
        "{message}"
    );
}

/// The product plan's own example writes the triggers as a list and timeouts in seconds.
#[test]
fn the_plan_s_list_of_triggers_turns_those_triggers_on_with_their_defaults() {
    let config = parse(
        "\
version: 1
automation:
  triggers: [comment, pr_opened, push, check_suite]
  defaults:
    timeout: 1800
  tasks:
    review:
      timeout: 600
",
    );
    let triggers = &config.triggers;
    assert!(triggers.comment.allows("refactor"));
    assert_eq!(
        triggers.pr_opened.tasks_for(PrAction::Opened)[0].as_str(),
        "review"
    );
    assert_eq!(triggers.push.tasks_for("main", "main")[0].as_str(), "test");
    assert_eq!(
        triggers.check_suite.tasks_for_rerequested()[0].as_str(),
        "fix"
    );
    assert!(!triggers.schedule.enabled);
    let review = config.task("review").expect("built-in");
    assert_eq!(review.timeout.as_secs(), 600);
    assert_eq!(
        config.task("fix").expect("built-in").timeout.as_secs(),
        1800
    );

    let only_reviews = parse("automation:\n  triggers: [pr_opened]\n");
    assert!(
        !only_reviews.triggers.comment.allows("review"),
        "the list names the triggers that are on; comment is not among them"
    );
    let block = parse("automation:\n  triggers:\n    - comment\n    - comment\n");
    assert!(block.triggers.comment.enabled && !block.triggers.pr_opened.enabled);
    assert!(
        parse("automation:\n  triggers: []\n").triggers
            == crate::config::Triggers {
                comment: crate::config::CommentTrigger {
                    enabled: false,
                    tasks: None,
                },
                ..Default::default()
            }
    );
}

#[test]
fn a_list_of_triggers_still_reports_what_is_wrong() {
    let text = "\
automation:
  triggers: [comment, pr_open, schedule, 3]
";
    let found = problems(text);
    let at: Vec<_> = found
        .iter()
        .map(|p| (p.position.map_or(0, |p| p.line), p.field.clone()))
        .collect();
    assert_eq!(
        at,
        [
            place(2, "automation.triggers[1]"),
            place(2, "automation.triggers[2]"),
            place(2, "automation.triggers[3]"),
        ]
    );
    let errors: ConfigErrors = RepoConfig::parse(text).expect_err("invalid");
    insta::assert_snapshot!("bad_trigger_list", config_errors_comment(&errors));
    let ((line, field), message) = one("automation:\n  triggers: comment\n");
    assert_eq!((line, field.as_str()), (2, "automation.triggers"));
    assert!(
        message.contains("a mapping of triggers, or a list of trigger names"),
        "{message}"
    );
}

#[test]
fn candidates_and_plan_are_for_tasks_that_change_code() {
    let config = parse(
        "\
automation:
  tasks:
    fix:
      candidates: 3
      plan: true
",
    );
    let fix = config.task("fix").expect("built-in");
    assert_eq!((fix.candidates, fix.plan), (3, true));
    let refactor = config.task("refactor").expect("built-in");
    assert_eq!(
        (refactor.candidates, refactor.plan),
        (1, false),
        "the defaults"
    );

    assert_eq!(
        places(
            "\
automation:
  tasks:
    fix:
      candidates: 0
    test:
      candidates: 6
    review:
      candidates: 2
      plan: true
"
        ),
        [
            place(4, "automation.tasks.fix.candidates"),
            place(6, "automation.tasks.test.candidates"),
            place(8, "automation.tasks.review.candidates"),
            place(9, "automation.tasks.review.plan"),
        ]
    );
    let (_, message) = one("automation:\n  tasks:\n    fix:\n      candidates: 9\n");
    assert!(message.contains("`9` is not from 1 to 5"), "{message}");
    let (_, message) = one("automation:\n  tasks:\n    review:\n      plan: true\n");
    assert!(message.contains("there is no plan to approve"), "{message}");
}
