//! Pull requests the client opens and reviews it posts: listing, creating (one open pull
//! request per head branch, as GitHub enforces) and their JSON.

use super::server::Answer;
use super::{BOT_LOGIN, Paging, State};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// A pull request the client opened.
#[derive(Debug, Clone)]
pub struct FakeOpenedPull {
    pub number: u64,
    pub repo: String,
    pub head: String,
    pub base: String,
    pub title: String,
    pub body: String,
    pub state: String,
}

impl FakeOpenedPull {
    pub fn url(&self) -> String {
        format!("https://github.com/{}/pull/{}", self.repo, self.number)
    }
}

/// A review the client posted.
#[derive(Debug, Clone)]
pub struct FakeReview {
    pub id: u64,
    pub repo: String,
    pub number: u64,
    /// The request as sent: `body`, `event`, `commit_id`, `comments`.
    pub fields: serde_json::Map<String, Value>,
}

/// A review a person submitted (see [`super::FakeGitHub::add_user_review`]).
#[derive(Debug, Clone)]
pub struct FakeUserReview {
    pub id: u64,
    pub repo: String,
    pub number: u64,
    pub login: String,
    /// As the REST API lists it: `APPROVED`, `CHANGES_REQUESTED`, `COMMENTED`.
    pub state: String,
    pub commit_id: String,
}

/// A merge the client asked for and GitHub made.
#[derive(Debug, Clone)]
pub struct FakeMerge {
    pub repo: String,
    pub number: u64,
    /// The head that was merged.
    pub head: String,
    /// `merge`, `squash` or `rebase`.
    pub method: String,
    /// The merge commit the fake made up.
    pub sha: String,
}

/// `PUT pulls/{n}/merge`, refusing what GitHub documents it refuses ("Merge a pull
/// request", REST API docs): 405 "Pull Request is not mergeable" for a pull request that
/// is closed, merged, or that branch protection or a conflict holds back, and 405 "…
/// are not allowed on this repository." for a method the repository turned off; 409 when `sha`
/// is given and is not the head; 422 for a `merge_method` GitHub does not know (also
/// checked against the OpenAPI description before this runs).
pub(crate) fn merge(state: &mut State, repo: &str, number: u64, body: Option<&Value>) -> Answer {
    let key = (repo.to_owned(), number);
    let Some(pull) = state.pulls.get(&key).cloned() else {
        return Answer::error(404, "Not Found");
    };
    let method = body
        .and_then(|body| body["merge_method"].as_str())
        .unwrap_or("merge")
        .to_owned();
    if !["merge", "squash", "rebase"].contains(&method.as_str()) {
        return Answer::refuse(422, "Validation Failed", format!("merge_method {method:?}"));
    }
    if let Some(allowed) = state.merge_methods.get(repo)
        && !allowed.contains(&method)
    {
        let what = match method.as_str() {
            "merge" => "Merge commits",
            "squash" => "Squash merges",
            _ => "Rebase merges",
        };
        return Answer::refuse(
            405,
            &format!("{what} are not allowed on this repository."),
            format!("merging #{number} with {method}, which {repo} does not allow"),
        );
    }
    let merged = state
        .merges
        .iter()
        .any(|merge| merge.repo == repo && merge.number == number);
    if pull.state != "open" || merged || state.unmergeable.contains(&key) {
        return Answer::refuse(
            405,
            "Pull Request is not mergeable",
            format!("merging #{number}, which is closed, merged or held back"),
        );
    }
    if let Some(sha) = body.and_then(|body| body["sha"].as_str())
        && sha != pull.head_sha
    {
        return Answer::refuse(
            409,
            "Head branch was modified. Review and try the merge again.",
            format!(
                "merging #{number} at {sha}, whose head is {}",
                pull.head_sha
            ),
        );
    }
    let sha = format!("{:040x}", state.next_id());
    state.merges.push(FakeMerge {
        repo: repo.to_owned(),
        number,
        head: pull.head_sha.clone(),
        method,
        sha: sha.clone(),
    });
    if let Some(pull) = state.pulls.get_mut(&key) {
        "closed".clone_into(&mut pull.state);
    }
    Answer::json(
        200,
        json!({ "sha": sha, "merged": true, "message": "Pull Request successfully merged" }),
    )
}

fn pull_json(pull: &FakeOpenedPull) -> Value {
    json!({
        "number": pull.number,
        "html_url": pull.url(),
        "state": pull.state,
        "title": pull.title,
        "body": pull.body,
        "head": { "ref": pull.head },
        "base": { "ref": pull.base },
    })
}

/// `GET pulls?head=owner:branch&state=open`.
pub(crate) fn list(state: &State, repo: &str, query: &BTreeMap<String, String>) -> Answer {
    let owner = repo.split_once('/').map_or("", |(owner, _)| owner);
    let head = query.get("head").map(|head| {
        head.split_once(':')
            .filter(|(who, _)| *who == owner)
            .map_or(String::new(), |(_, branch)| branch.to_owned())
    });
    let wanted_state = query.get("state").map_or("open", String::as_str);
    let pulls: Vec<Value> = state
        .opened_pulls
        .iter()
        .filter(|pull| pull.repo == repo)
        .filter(|pull| head.as_ref().is_none_or(|head| &pull.head == head))
        .filter(|pull| wanted_state == "all" || pull.state == wanted_state)
        .map(pull_json)
        .collect();
    Answer::json(200, Value::Array(pulls))
}

pub(crate) fn create(state: &mut State, repo: &str, body: Option<&Value>) -> Answer {
    let text = |name: &str| body.and_then(|body| body[name].as_str()).map(str::to_owned);
    let (Some(title), Some(head), Some(base)) = (text("title"), text("head"), text("base")) else {
        return Answer::refuse(422, "Validation Failed", "pull without title, head or base");
    };
    if state
        .opened_pulls
        .iter()
        .any(|pull| pull.repo == repo && pull.head == head && pull.state == "open")
    {
        return Answer::refuse(
            422,
            "A pull request already exists",
            format!("a second pull request from {head}"),
        );
    }
    if let Some(refused) = super::limits::body("PullRequest", &text("body").unwrap_or_default()) {
        return refused;
    }
    let pull = FakeOpenedPull {
        number: state.next_id(),
        repo: repo.to_owned(),
        head,
        base,
        title,
        body: text("body").unwrap_or_default(),
        state: "open".to_owned(),
    };
    let answer = pull_json(&pull);
    state.opened_pulls.push(pull);
    Answer::json(201, answer)
}

/// The App's reviews and people's, oldest first, paged as GitHub pages them (`per_page`
/// at most 100, `page` from 1).
pub(crate) fn reviews(
    state: &State,
    repo: &str,
    number: u64,
    query: &BTreeMap<String, String>,
) -> Answer {
    let Paging { per_page, page } = Paging::from_query(query);
    let mut reviews: Vec<(u64, Value)> = state
        .reviews
        .iter()
        .filter(|review| review.repo == repo && review.number == number)
        .map(|review| (review.id, review_json(review)))
        .chain(
            state
                .user_reviews
                .iter()
                .filter(|review| review.repo == repo && review.number == number)
                .map(|review| {
                    (
                        review.id,
                        json!({
                            "id": review.id,
                            "body": "",
                            "commit_id": review.commit_id,
                            "state": review.state,
                            "user": { "login": review.login, "type": "User" },
                        }),
                    )
                }),
        )
        .collect();
    reviews.sort_by_key(|(id, _)| *id);
    let reviews: Vec<Value> = reviews
        .into_iter()
        .map(|(_, review)| review)
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    Answer::json(200, Value::Array(reviews))
}

pub(crate) fn review(state: &mut State, repo: &str, number: u64, body: Option<&Value>) -> Answer {
    let Some(Value::Object(fields)) = body else {
        return Answer::refuse(422, "Invalid request", "review without a JSON object");
    };
    let comments_ok = fields
        .get("comments")
        .and_then(Value::as_array)
        .is_none_or(|comments| {
            comments.iter().all(|comment| {
                comment["path"].is_string()
                    && comment["line"].as_u64().is_some_and(|line| line > 0)
                    && comment["body"].is_string()
            })
        });
    if !comments_ok {
        return Answer::refuse(
            422,
            "Unprocessable Entity",
            "a review comment without path, line or body",
        );
    }
    let texts = fields.get("body").into_iter().chain(
        fields
            .get("comments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|comment| comment.get("body")),
    );
    if let Some(refused) = texts
        .filter_map(Value::as_str)
        .find_map(|text| super::limits::body("PullRequestReview", text))
    {
        return refused;
    }
    let files = state
        .pull_files
        .get(&(repo.to_owned(), number))
        .cloned()
        .unwrap_or_default();
    if let Some(refused) = super::limits::review_lines(&files, fields) {
        return refused;
    }
    let review = FakeReview {
        id: state.next_id(),
        repo: repo.to_owned(),
        number,
        fields: fields.clone(),
    };
    let answer = review_json(&review);
    state.reviews.push(review);
    Answer::json(200, answer)
}

/// The inline comments of the pull request's reviews, oldest first, paged as GitHub
/// pages them (`per_page` at most 100, `page` from 1).
pub(crate) fn review_comments(
    state: &State,
    repo: &str,
    number: u64,
    query: &std::collections::BTreeMap<String, String>,
) -> Answer {
    let Paging { per_page, page } = Paging::from_query(query);
    let comments: Vec<Value> = state
        .reviews
        .iter()
        .filter(|review| review.repo == repo && review.number == number)
        .flat_map(|review| {
            review
                .fields
                .get("comments")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(move |comment| {
                    json!({
                        "pull_request_review_id": review.id,
                        "path": comment["path"],
                        "line": comment["line"],
                        "body": comment["body"],
                        "commit_id": review.fields.get("commit_id").cloned().unwrap_or(Value::Null),
                        "user": { "login": BOT_LOGIN, "type": "Bot" },
                    })
                })
        })
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    Answer::json(200, Value::Array(comments))
}

fn review_json(review: &FakeReview) -> Value {
    json!({
        "id": review.id,
        "body": review.fields.get("body").cloned().unwrap_or(Value::Null),
        "commit_id": review.fields.get("commit_id").cloned().unwrap_or(Value::Null),
        "state": "COMMENTED",
        "user": { "login": BOT_LOGIN, "type": "Bot" },
    })
}
