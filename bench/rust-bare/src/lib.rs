//! workers-rs alone, no tenancy: the middleware benchmark's two routes (one without the database,
//! one SELECT by primary key on the tenant's D1 binding, named by the factory's convention), the
//! Rust counterpart of bench/middleware/workers/bare.js.

use serde_json::json;
use worker::{event, Context, Env, Request, Response, Result, RouteContext, Router};

fn param(ctx: &RouteContext<()>, name: &str) -> String {
    ctx.param(name).cloned().unwrap_or_default()
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Router::new()
        .get("/t/:tenant/items/:n", |_req, ctx| {
            let item: i64 = param(&ctx, "n").parse().unwrap_or_default();
            Response::from_json(
                &json!({ "tenant": param(&ctx, "tenant"), "user": null, "item": item }),
            )
        })
        .get_async("/t/:tenant/notes/:id", async |_req, ctx| {
            let tenant = param(&ctx, "tenant");
            let id: i64 = param(&ctx, "id").parse().unwrap_or_default();
            let binding = format!("TENANT_{}", tenant.to_uppercase().replace('-', "_"));
            let note = ctx
                .env
                .d1(&binding)?
                .prepare("SELECT id, body FROM notes WHERE id = ?")
                .bind(&[(id as f64).into()])? // D1 takes numbers, not BigInts
                .first::<serde_json::Value>(None)
                .await?;
            match note {
                Some(note) => Response::from_json(&json!({ "tenant": tenant, "note": note })),
                None => {
                    Ok(Response::from_json(&json!({ "error": "no such note" }))?.with_status(404))
                }
            }
        })
        .run(req, env)
        .await
}
