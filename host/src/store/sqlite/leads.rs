use async_trait::async_trait;
use chrono::Utc;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::SqliteStore;
use crate::model::{LeadId, TenantId};
use crate::store::{
    LEAD_STATUS_NEW, LeadFilter, LeadInput, LeadRecord, LeadStore, LeadUpsert, Page, StoreError,
    StoreResult, check_lead_input, merge_tags,
};

const LEAD_COLUMNS: &str = "id, business_id, external_id, phone, name, timezone, \
     attributes, status, tags, created_at, updated_at";

fn lead_from_row(r: &SqliteRow) -> StoreResult<LeadRecord> {
    let attributes: String = r.get(6);
    let tags: String = r.get(8);
    Ok(LeadRecord {
        id: r.get(0),
        tenant: r.get(1),
        external_id: r.get(2),
        phone: r.get(3),
        name: r.get(4),
        timezone: r.get(5),
        attributes: serde_json::from_str(&attributes)
            .map_err(|e| StoreError::Other(format!("lead attributes: {e}")))?,
        status: r.get(7),
        tags: serde_json::from_str(&tags)
            .map_err(|e| StoreError::Other(format!("lead tags: {e}")))?,
        created_at: r.get(9),
        updated_at: r.get(10),
    })
}

fn json(v: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(e.to_string()))
}

#[async_trait]
impl LeadStore for SqliteStore {
    async fn upsert_leads(
        &self,
        tenant: TenantId,
        leads: &[LeadInput],
    ) -> StoreResult<Vec<Result<LeadUpsert, StoreError>>> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let now = Utc::now();
        let mut out = Vec::with_capacity(leads.len());
        for l in leads {
            if let Err(e) = check_lead_input(l) {
                out.push(Err(e));
                continue;
            }
            // `revision` is 1 on insert and grows on update: tells the two apart.
            let row = sqlx::query(
                "INSERT INTO leads (business_id, external_id, phone, name, timezone, attributes, \
                     status, tags, revision, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, COALESCE($7, $8), $9, 1, $10, $10) \
                 ON CONFLICT (business_id, external_id) DO UPDATE SET \
                     phone = excluded.phone, name = excluded.name, timezone = excluded.timezone, \
                     attributes = excluded.attributes, status = COALESCE($7, leads.status), \
                     tags = excluded.tags, revision = leads.revision + 1, updated_at = $10 \
                 RETURNING id, revision",
            )
            .bind(tenant)
            .bind(&l.external_id)
            .bind(&l.phone)
            .bind(&l.name)
            .bind(&l.timezone)
            .bind(json(&l.attributes)?)
            .bind(&l.status)
            .bind(LEAD_STATUS_NEW)
            .bind(json(&l.tags)?)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| self.err(e))?;
            let id: LeadId = row.get(0);
            let revision: i64 = row.get(1);
            out.push(Ok(if revision == 1 {
                LeadUpsert::Created(id)
            } else {
                LeadUpsert::Updated(id)
            }));
        }
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(out)
    }

    async fn get_lead(&self, tenant: TenantId, lead: LeadId) -> StoreResult<LeadRecord> {
        let row = sqlx::query(&format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE business_id = $1 AND id = $2"
        ))
        .bind(tenant)
        .bind(lead)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?
        .ok_or(StoreError::NotFound)?;
        lead_from_row(&row)
    }

    async fn get_lead_by_external_id(
        &self,
        tenant: TenantId,
        external_id: &str,
    ) -> StoreResult<LeadRecord> {
        let row = sqlx::query(&format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE business_id = $1 AND external_id = $2"
        ))
        .bind(tenant)
        .bind(external_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| self.err(e))?
        .ok_or(StoreError::NotFound)?;
        lead_from_row(&row)
    }

    async fn list_leads(
        &self,
        tenant: TenantId,
        filter: &LeadFilter,
        page: Page,
    ) -> StoreResult<Vec<LeadRecord>> {
        let rows = sqlx::query(&format!(
            "SELECT {LEAD_COLUMNS} FROM leads WHERE business_id = $1 AND id > $2 \
             AND ($3 IS NULL OR status = $3) \
             AND ($4 IS NULL OR EXISTS (SELECT 1 FROM json_each(tags) WHERE value = $4)) \
             ORDER BY id LIMIT $5"
        ))
        .bind(tenant)
        .bind(page.sql_after())
        .bind(&filter.status)
        .bind(&filter.tag)
        .bind(page.sql_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.err(e))?;
        rows.iter().map(lead_from_row).collect()
    }

    async fn update_lead_outcome(
        &self,
        tenant: TenantId,
        lead: LeadId,
        status: Option<&str>,
        add_tags: &[String],
    ) -> StoreResult<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| self.err(e))?;
        let row = sqlx::query("SELECT tags FROM leads WHERE business_id = $1 AND id = $2")
            .bind(tenant)
            .bind(lead)
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::NotFound)?;
        let mut tags: Vec<String> = serde_json::from_str(&row.get::<String, _>(0))
            .map_err(|e| StoreError::Other(format!("lead tags: {e}")))?;
        merge_tags(&mut tags, add_tags);
        sqlx::query(
            "UPDATE leads SET status = COALESCE($3, status), tags = $4, updated_at = $5 \
             WHERE business_id = $1 AND id = $2",
        )
        .bind(tenant)
        .bind(lead)
        .bind(status)
        .bind(json(&tags)?)
        .bind(Utc::now())
        .execute(&mut *tx)
        .await
        .map_err(|e| self.err(e))?;
        tx.commit().await.map_err(|e| self.err(e))?;
        Ok(())
    }
}
