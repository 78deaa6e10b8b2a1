//! Leads: upsert, validation, isolation, listing, outcomes.

use super::*;

pub async fn leads_upsert_updates_rather_than_duplicates(store: Arc<dyn Store>) {
    let b = tenant(&store).await;
    let first = store
        .upsert_leads(b, &[lead("x1", "+33100000001"), lead("x2", "+33100000002")])
        .await
        .unwrap();
    let id1 = match first[0] {
        Ok(LeadUpsert::Created(id)) => id,
        ref o => panic!("x1 should be created: {o:?}"),
    };
    assert!(matches!(first[1], Ok(LeadUpsert::Created(_))));

    let mut changed = lead("x1", "+33100000009");
    changed.name = None;
    changed.tags = vec!["autumn".into()];
    changed.attributes = BTreeMap::from([("plan".to_string(), "silver".to_string())]);
    let second = store
        .upsert_leads(b, &[changed, lead("x3", "+33100000003")])
        .await
        .unwrap();
    assert!(
        matches!(second[0], Ok(LeadUpsert::Updated(id)) if id == id1),
        "{second:?}"
    );
    assert!(matches!(second[1], Ok(LeadUpsert::Created(_))));

    let all = store
        .list_leads(b, &LeadFilter::default(), Page::first(100))
        .await
        .unwrap();
    assert_eq!(
        all.len(),
        3,
        "a duplicate external id must update, not add a row"
    );
    let x1 = store.get_lead(b, id1).await.unwrap();
    assert_eq!(x1.phone, "+33100000009");
    assert_eq!(x1.name, None);
    assert_eq!(x1.tags, vec!["autumn".to_string()]);
    assert_eq!(
        x1.attributes.get("plan").map(String::as_str),
        Some("silver")
    );
    assert_eq!(
        x1.status, LEAD_STATUS_NEW,
        "status kept when the input has none"
    );
    assert_eq!(
        store.get_lead_by_external_id(b, "x1").await.unwrap().id,
        id1
    );

    let mut with_status = lead("x1", "+33100000009");
    with_status.status = Some("contacted".into());
    store.upsert_leads(b, &[with_status]).await.unwrap();
    assert_eq!(store.get_lead(b, id1).await.unwrap().status, "contacted");
}

pub async fn leads_bad_rows_are_reported_and_good_rows_stored(store: Arc<dyn Store>) {
    let b = tenant(&store).await;
    let mut no_id = lead("", "+33100000001");
    no_id.external_id = " ".into();
    let no_phone = lead("y2", "");
    let mut long_tag = lead("y3", "+33100000003");
    long_tag.tags = vec!["t".repeat(LEAD_TEXT_MAX + 1)];
    let results = store
        .upsert_leads(b, &[no_id, lead("ok", "+33100000004"), no_phone, long_tag])
        .await
        .unwrap();
    assert_eq!(results.len(), 4);
    let field = |r: &Result<LeadUpsert, StoreError>| match r {
        Err(StoreError::Invalid { field, .. }) => field.clone(),
        o => panic!("expected Invalid, got {o:?}"),
    };
    assert_eq!(field(&results[0]), "external_id");
    assert!(matches!(results[1], Ok(LeadUpsert::Created(_))));
    assert_eq!(field(&results[2]), "phone");
    assert_eq!(field(&results[3]), "tags");
    let all = store
        .list_leads(b, &LeadFilter::default(), Page::first(10))
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|l| l.external_id.as_str())
            .collect::<Vec<_>>(),
        ["ok"]
    );
}

pub async fn leads_are_isolated_between_tenants(store: Arc<dyn Store>) {
    let a = tenant(&store).await;
    let b = tenant(&store).await;
    let ra = store
        .upsert_leads(a, &[lead("same", "+33100000001")])
        .await
        .unwrap();
    let rb = store
        .upsert_leads(b, &[lead("same", "+44100000001")])
        .await
        .unwrap();
    let (Ok(LeadUpsert::Created(ia)), Ok(LeadUpsert::Created(ib))) = (&ra[0], &rb[0]) else {
        panic!("the same external id in two tenants is two leads: {ra:?} {rb:?}");
    };
    assert_ne!(ia, ib);
    assert_not_found(store.get_lead(b, *ia).await, "B reading A's lead");
    assert_not_found(
        store.update_lead_outcome(b, *ia, Some("x"), &[]).await,
        "B updating A's lead",
    );
    assert_eq!(store.get_lead(a, *ia).await.unwrap().phone, "+33100000001");
    assert_eq!(
        store
            .get_lead_by_external_id(b, "same")
            .await
            .unwrap()
            .phone,
        "+44100000001"
    );
    let c = tenant(&store).await;
    assert!(
        store
            .list_leads(c, &LeadFilter::default(), Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    assert_not_found(
        store.get_lead_by_external_id(c, "same").await,
        "C by external id",
    );
}

pub async fn leads_list_filters_and_pages(store: Arc<dyn Store>) {
    let b = tenant(&store).await;
    let rows: Vec<LeadInput> = (0..7)
        .map(|i| {
            let mut l = lead(&format!("p{i}"), &format!("+3310000000{i}"));
            l.tags = if i % 2 == 0 {
                vec!["even".into(), "all".into()]
            } else {
                vec!["all".into()]
            };
            l.status = Some(if i < 3 { "new".into() } else { "called".into() });
            l
        })
        .collect();
    store.upsert_leads(b, &rows).await.unwrap();
    let f = |tag: Option<&str>, status: Option<&str>| LeadFilter {
        tag: tag.map(Into::into),
        status: status.map(Into::into),
    };
    let ext = |v: Vec<LeadRecord>| v.into_iter().map(|l| l.external_id).collect::<Vec<_>>();
    assert_eq!(
        ext(store
            .list_leads(b, &f(Some("even"), None), Page::first(100))
            .await
            .unwrap()),
        ["p0", "p2", "p4", "p6"]
    );
    assert_eq!(
        ext(store
            .list_leads(b, &f(Some("even"), Some("called")), Page::first(100))
            .await
            .unwrap()),
        ["p4", "p6"]
    );
    assert!(
        store
            .list_leads(b, &f(Some("ev"), None), Page::first(100))
            .await
            .unwrap()
            .is_empty()
    );
    // Keyset paging walks every row exactly once.
    let mut seen = Vec::new();
    let mut page = Page::first(3);
    loop {
        let got = store
            .list_leads(b, &f(Some("all"), None), page)
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        assert!(got.len() <= 3);
        page.after = got.last().map(|l| l.id.get());
        seen.extend(ext(got));
    }
    assert_eq!(seen, ["p0", "p1", "p2", "p3", "p4", "p5", "p6"]);
    // Absurd limits are clamped, not errors.
    assert_eq!(
        store
            .list_leads(b, &f(None, None), Page::first(0))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_leads(b, &f(None, None), Page::first(u32::MAX))
            .await
            .unwrap()
            .len(),
        7
    );
}

pub async fn lead_outcome_sets_status_and_merges_tags(store: Arc<dyn Store>) {
    let b = tenant(&store).await;
    let r = store
        .upsert_leads(b, &[lead("o1", "+33100000001")])
        .await
        .unwrap();
    let Ok(LeadUpsert::Created(id)) = r[0] else {
        panic!("{r:?}")
    };
    store
        .update_lead_outcome(b, id, Some("answered"), &["vip".into(), "spring".into()])
        .await
        .unwrap();
    let l = store.get_lead(b, id).await.unwrap();
    assert_eq!(l.status, "answered");
    assert_eq!(l.tags, ["spring", "vip"]);
    store.update_lead_outcome(b, id, None, &[]).await.unwrap();
    assert_eq!(store.get_lead(b, id).await.unwrap().status, "answered");
}
