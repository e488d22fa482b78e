use super::*;
use crate::config::RepoConfig;
use crate::envelope::{AccountKind, CommentSource};
use crate::ids::{CommitSha, DeliveryId, InstallationId, RepoFullName};
use crate::job::{Approval, JobId, JobRecord, JobRequest, JobStatus, Trigger};
use crate::ports::Permission;

fn config(yaml: &str) -> RepoConfig {
    RepoConfig::parse(yaml).expect("valid config")
}

fn request(permission: Permission) -> RunRequest<'static> {
    RunRequest {
        trigger: TriggerKind::Comment,
        task: "refactor",
        requester: "octocat",
        requester_kind: AccountKind::User,
        permission,
        from_fork: false,
    }
}

fn policy(name: &str) -> InstallationPolicy {
    InstallationPolicy {
        installation: InstallationId(1),
        name: name.to_owned(),
        repo_pattern: "*/*".to_owned(),
        allowed_triggers: None,
        allowed_users: None,
        require_approval: None,
        max_runtime_seconds: None,
        allow_hosted_model: None,
        user_jobs_per_hour: None,
        installation_jobs_per_hour: None,
        allowed_overrides: None,
        token_budget: None,
        plan_first: None,
    }
}

fn awaiting_job(requester: &str, pinned: Option<&str>) -> JobRecord {
    let delivery = DeliveryId::parse("d-1").expect("id");
    let mut job = JobRecord::new(
        JobRequest {
            id: JobId::for_command(&delivery, 0),
            delivery,
            installation: InstallationId(1),
            repo: RepoFullName::new("octo-org/api"),
            commit: CommitSha::new("a".repeat(40)),
            git_ref: "feature".to_owned(),
            trigger: Trigger::Comment {
                comment_id: 7,
                source: CommentSource::IssueComment,
                number: 3,
                on_pull_request: true,
            },
            task: "refactor".to_owned(),
            params: String::new(),
            requester: requester.to_owned(),
            approval: Approval::required(pinned.map(CommitSha::new)),
        },
        0,
    );
    job.move_to(JobStatus::AwaitingApproval, 1)
        .expect("queued → awaiting_approval");
    job
}

#[test]
fn a_writer_runs_without_approval() {
    let decision = decide_run(&request(Permission::Write), &RepoConfig::default(), None);
    assert_eq!(decision, RunDecision::Run { approval: vec![] });
}

#[test]
fn read_only_users_are_denied() {
    for permission in [Permission::None, Permission::Read] {
        assert_eq!(
            decide_run(&request(permission), &RepoConfig::default(), None),
            RunDecision::Denied(Denial::Permission {
                user: "octocat".to_owned(),
                has: permission
            })
        );
    }
}

#[test]
fn a_triager_or_a_fork_needs_approval_from_a_writer() {
    let decision = decide_run(&request(Permission::Triage), &RepoConfig::default(), None);
    assert_eq!(
        decision,
        RunDecision::Run {
            approval: vec![ApprovalReason::Permission {
                has: Permission::Triage,
                needs: Permission::Write
            }]
        }
    );
    let fork = RunRequest {
        from_fork: true,
        ..request(Permission::Admin)
    };
    assert_eq!(
        decide_run(&fork, &RepoConfig::default(), None),
        RunDecision::Run {
            approval: vec![ApprovalReason::Fork]
        }
    );
}

#[test]
fn maintainers_only_raises_the_bar_to_maintain() {
    let strict = config("automation:\n  approval:\n    maintainers_only: true\n");
    assert_eq!(approver_role(&strict), Permission::Maintain);
    let RunDecision::Run { approval } = decide_run(&request(Permission::Write), &strict, None)
    else {
        panic!("not denied")
    };
    assert_eq!(
        approval,
        vec![ApprovalReason::Permission {
            has: Permission::Write,
            needs: Permission::Maintain
        }]
    );
}

#[test]
fn config_and_policy_can_require_approval_for_everyone() {
    let strict = config("automation:\n  approval:\n    required: true\n");
    let mut forced = policy("locked-down");
    forced.require_approval = Some(true);
    let RunDecision::Run { approval } =
        decide_run(&request(Permission::Admin), &strict, Some(&forced))
    else {
        panic!("not denied")
    };
    assert_eq!(
        approval,
        vec![
            ApprovalReason::Config,
            ApprovalReason::Policy("locked-down".to_owned())
        ]
    );
}

#[test]
fn bots_disabled_tasks_and_policy_limits_are_denied() {
    let bot = RunRequest {
        requester_kind: AccountKind::Bot,
        ..request(Permission::Admin)
    };
    assert_eq!(
        decide_run(&bot, &RepoConfig::default(), None),
        RunDecision::Denied(Denial::Bot)
    );

    let mut comments_only_docs = policy("p");
    comments_only_docs.allowed_triggers = Some(vec![TriggerKind::PrOpened]);
    assert!(matches!(
        decide_run(
            &request(Permission::Admin),
            &RepoConfig::default(),
            Some(&comments_only_docs)
        ),
        RunDecision::Denied(Denial::TriggerNotAllowed { .. })
    ));

    let mut few_users = policy("p");
    few_users.allowed_users = Some(vec!["Hubot".to_owned(), "OctoCat".to_owned()]);
    assert!(matches!(
        decide_run(
            &request(Permission::Admin),
            &RepoConfig::default(),
            Some(&few_users)
        ),
        RunDecision::Run { .. }
    ));
    few_users.allowed_users = Some(vec!["hubot".to_owned()]);
    assert_eq!(
        decide_run(
            &request(Permission::Admin),
            &RepoConfig::default(),
            Some(&few_users)
        ),
        RunDecision::Denied(Denial::UserNotAllowed {
            policy: "p".to_owned(),
            user: "octocat".to_owned()
        })
    );
}

#[test]
fn approvals_need_the_role_another_person_and_the_same_head() {
    let defaults = RepoConfig::default();
    let job = awaiting_job("octocat", Some(&"a".repeat(40)));
    let head = CommitSha::new("a".repeat(40));
    let approve = |who: &str, permission| {
        decide_approval(
            who,
            AccountKind::User,
            permission,
            &job,
            Some(&head),
            &defaults,
        )
    };
    assert_eq!(approve("maintainer", Permission::Write), Ok(()));
    assert!(matches!(
        approve("reader", Permission::Triage),
        Err(ApprovalRefusal::Permission { .. })
    ));
    assert_eq!(
        approve("OctoCat", Permission::Admin),
        Err(ApprovalRefusal::SelfApproval("OctoCat".to_owned()))
    );
    let relaxed = config("automation:\n  approval:\n    allow_self_approval: true\n");
    assert_eq!(
        decide_approval(
            "octocat",
            AccountKind::User,
            Permission::Admin,
            &job,
            Some(&head),
            &relaxed
        ),
        Ok(())
    );

    let moved = CommitSha::new("b".repeat(40));
    assert_eq!(
        decide_approval(
            "maintainer",
            AccountKind::User,
            Permission::Admin,
            &job,
            Some(&moved),
            &defaults
        ),
        Err(ApprovalRefusal::HeadMoved {
            pinned: "aaaaaaa".to_owned(),
            current: "bbbbbbb".to_owned()
        })
    );
}

#[test]
fn only_waiting_jobs_can_be_approved() {
    let mut job = awaiting_job("octocat", None);
    job.move_to(JobStatus::Cancelled, 2).expect("cancel");
    assert!(matches!(
        decide_approval(
            "m",
            AccountKind::User,
            Permission::Admin,
            &job,
            None,
            &RepoConfig::default()
        ),
        Err(ApprovalRefusal::NotWaiting { .. })
    ));
}

#[test]
fn the_requester_or_a_writer_may_cancel() {
    let job = awaiting_job("octocat", None);
    let defaults = RepoConfig::default();
    let needs = CommandKind::Cancel.spec().needs;
    let may_cancel = |actor, permission| may_give(needs, actor, permission, Some(&job), &defaults);
    assert!(may_cancel("octocat", Permission::Read));
    assert!(may_cancel("maintainer", Permission::Write));
    assert!(!may_cancel("someone", Permission::Triage));
}
