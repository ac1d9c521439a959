//! A fixed, read-only product catalogue: the target of data-driven flows (`for_each` over
//! categories or ids), whose expected answers never change.

use crate::ApiError;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One product of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Product {
    /// 1 to 6.
    pub id: u32,
    /// Display name.
    pub name: &'static str,
    /// Price; never a whole number, so that it is always a JSON float.
    pub price: f64,
    /// `books`, `games` or `tools`.
    pub category: &'static str,
}

/// The catalogue: three books, two games, one tool.
pub const CATALOGUE: [Product; 6] = [
    Product { id: 1, name: "The Rust Programming Language", price: 39.95, category: "books" },
    Product { id: 2, name: "Designing Data-Intensive Applications", price: 45.5, category: "books" },
    Product { id: 3, name: "Crafting Interpreters", price: 34.99, category: "books" },
    Product { id: 4, name: "Catan", price: 44.99, category: "games" },
    Product { id: 5, name: "Ticket to Ride", price: 39.49, category: "games" },
    Product { id: 6, name: "Cordless Drill", price: 89.9, category: "tools" },
];

/// The query of `GET /products`.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    /// Only products of this category (exact match); all products when absent.
    pub category: Option<String>,
}

/// `GET /products?category=x` → `200 {"items": [...], "count": n}`; an unknown category gives no
/// items, not an error.
pub async fn list(query: Result<Query<Filter>, QueryRejection>) -> Result<Json<Value>, ApiError> {
    let Query(filter) = query?;
    let items: Vec<Product> = CATALOGUE
        .iter()
        .filter(|p| filter.category.as_deref().is_none_or(|category| p.category == category))
        .copied()
        .collect();
    Ok(Json(json!({ "items": items, "count": items.len() })))
}

/// `GET /products/{id}` → `200` with the product, or `404` (for a non-numeric id too).
pub async fn get(Path(id): Path<String>) -> Result<Json<Product>, ApiError> {
    let id: u32 = id.parse().map_err(|_| ApiError::not_found())?;
    CATALOGUE.iter().find(|p| p.id == id).copied().map(Json).ok_or_else(ApiError::not_found)
}
