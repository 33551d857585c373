//! The API's response bodies, decoded tolerantly: unknown keys ignored, optional fields
//! `Option`, so that older and newer servers both read.

use serde::Deserialize;

/// `GET /me`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct User {
    pub id: String,
    pub login: String,
    #[serde(default)]
    pub name: Option<String>,
}

/// `GET /project/{project-slug}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Project {
    pub slug: String,
    pub name: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub organization_name: Option<String>,
    #[serde(default)]
    pub organization_slug: Option<String>,
    #[serde(default)]
    pub organization_id: Option<String>,
    #[serde(default)]
    pub vcs_info: Option<VcsInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VcsInfo {
    #[serde(default)]
    pub vcs_url: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default)]
    pub default_branch: Option<String>,
}

/// An item of `GET /context`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Context {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// An item of `GET /context/{id}/environment-variable` (the value is never returned).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ContextVariable {
    pub variable: String,
    #[serde(default)]
    pub context_id: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

/// One page of a list: `{"items": [...], "next_page_token": string | null}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Page<T> {
    pub items: Vec<T>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}
