//! The dead letters, for the server's owner only: `GET /dead-letters` lists what the App
//! gave up on, `POST /dead-letters/{id}/{retry|discard}` handles one again or drops it.
//! A signed-in GitHub user is answered as if the pages did not exist: they concern the
//! whole server, not one repository.

use crate::Web;
use crate::jobs::{check_csrf, see_other};
use crate::pages::{self, Frame};
use crate::time::format_ms;
use crate::viewer::{Refusal, Viewer, viewer};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use shared::ports::{ControlPlane, DeadLetterAction};
use std::sync::Arc;

/// The most dead letters the page lists.
pub const PAGE_SIZE: usize = 100;

struct DeadLetterRow {
    id: String,
    kind: String,
    received: String,
    attempts: u32,
    error: String,
}

#[derive(Template)]
#[template(path = "dead_letters.html")]
struct DeadLettersPage {
    frame: Frame,
    rows: Vec<DeadLetterRow>,
}

/// The owner, or the refusal a user gets.
fn owner<C>(web: &Web<C>, viewer: &Viewer) -> Result<(), Refusal> {
    if viewer.is_owner(web) {
        return Ok(());
    }
    Err(Refusal::NotFound(
        "Dead letters are for the server's owner.".to_owned(),
    ))
}

/// `GET /dead-letters`.
pub async fn list<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    owner(&web, &viewer)?;
    let rows = web
        .plane
        .dead_letters(PAGE_SIZE)
        .await?
        .into_iter()
        .map(|dead| DeadLetterRow {
            id: dead.id,
            kind: dead.kind,
            received: format_ms(dead.received_at_ms),
            attempts: dead.attempts,
            error: dead.error.unwrap_or_default(),
        })
        .collect();
    let page = DeadLettersPage {
        frame: Frame::new(&web, &viewer),
        rows,
    };
    Ok(pages::html(StatusCode::OK, page.render()))
}

/// `POST /dead-letters/{id}/{retry|discard}`.
pub async fn act<C: ControlPlane>(
    State(web): State<Arc<Web<C>>>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let viewer = viewer(&web, &headers)?;
    owner(&web, &viewer)?;
    check_csrf(&web, &viewer, &body)?;
    let action = match action.as_str() {
        "retry" => DeadLetterAction::Retry,
        "discard" => DeadLetterAction::Discard,
        other => {
            return Err(Refusal::NotFound(format!(
                "There is no action “{other}”; a dead letter can be retried or discarded."
            )));
        }
    };
    if web
        .plane
        .dead_letter_act(&id, action, &viewer.actor())
        .await?
    {
        tracing::info!(delivery = %id, action = action.as_str(), "the owner acted on a dead letter");
        Ok(see_other("/dead-letters"))
    } else {
        Err(Refusal::Conflict(format!(
            "There is no dead letter “{id}” (any more): it may have been handled or discarded already."
        )))
    }
}
