//! The README example's note routes, on one D1 binding, with workers-rs alone.

use serde::Deserialize;
use worker::{event, Context, Env, Request, Response, Result, Router};

#[derive(Deserialize)]
struct NewNote {
    body: String,
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Router::new()
        .post_async("/t/:tenant/notes", async |mut req, ctx| {
            let note: NewNote = req.json().await?;
            let row = ctx
                .env
                .d1("DB")?
                .prepare("INSERT INTO notes (body) VALUES (?) RETURNING id, body")
                .bind(&[note.body.into()])?
                .first::<serde_json::Value>(None)
                .await?;
            Response::from_json(&row)
        })
        .get_async("/t/:tenant/notes", async |_req, ctx| {
            let rows = ctx
                .env
                .d1("DB")?
                .prepare("SELECT id, body FROM notes ORDER BY id")
                .all()
                .await?;
            Response::from_json(&rows.results::<serde_json::Value>()?)
        })
        .run(req, env)
        .await
}
