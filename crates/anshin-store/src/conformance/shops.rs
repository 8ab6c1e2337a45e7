//! The catalog: one shop per member, owner-scoped writes (no IDOR), caps
//! that hold under parallel requests, image order, who may fetch a file,
//! and a search that finds the same Japanese substrings on every backend,
//! whatever characters the query holds.

use super::fixtures::{at, commit, commit_fails, join_all, new_id, sign_up, try_commit};
use crate::{
    Changes, ImageFormat, ImageRecord, ItemDescription, ItemEdit, ItemId, ItemStatus, ItemTitle,
    MediaKey, MediaKind, MemberId, NewItem, Price, SearchQuery, SearchSort, ShopDescription,
    ShopId, ShopName, ShopRecord, ShopStatus, Stock, Store, StoreError, Timestamp, Write, Yen,
    guards,
};

fn shop(owner: MemberId, name: &str, now: Timestamp) -> ShopRecord {
    ShopRecord {
        id: new_id(),
        owner_id: owner,
        name: ShopName::parse(name).expect("name"),
        description: ShopDescription::parse("").expect("description"),
        icon_key: None,
        status: ShopStatus::Open,
        created_at: now,
        updated_at: now,
    }
}

/// An item whose search text is its title (the checks write it already
/// normalised, as the core does).
fn item(shop: ShopId, title: &str, yen: i64, status: ItemStatus, now: Timestamp) -> NewItem {
    NewItem {
        id: new_id(),
        shop_id: shop,
        title: ItemTitle::parse(title).expect("title"),
        description: ItemDescription::parse("").expect("description"),
        price: Price::new(Yen::new(yen)).expect("price"),
        stock: Stock::limited(3).expect("stock"),
        status,
        search_text: title.to_lowercase(),
        created_at: now,
    }
}

fn image(item: ItemId, now: Timestamp) -> ImageRecord {
    let id: uuid::Uuid = new_id();
    ImageRecord {
        id: crate::ImageId::from_uuid(id),
        item_id: item,
        position: 0,
        media_key: MediaKey::new(MediaKind::Image, id, ImageFormat::Jpeg),
        thumb_key: MediaKey::new(MediaKind::Thumb, id, ImageFormat::Jpeg),
        width: 640,
        height: 480,
        format: ImageFormat::Jpeg,
        created_at: now,
    }
}

async fn open(store: &dyn Store, address: &str, seed: u8) -> (MemberId, ShopRecord) {
    let owner = sign_up(store, address, at(0), seed).await;
    let s = shop(owner, &format!("shop {seed}"), at(0));
    commit(store, Changes::new().with(Write::OpenShop(s.clone()))).await;
    (owner, s)
}

async fn add(store: &dyn Store, owner: MemberId, item: &NewItem) {
    commit(
        store,
        Changes::new().with(Write::AddItem {
            owner,
            item: item.clone(),
            max_items: 1000,
        }),
    )
    .await;
}

fn titles(list: &[crate::ItemSummary]) -> Vec<String> {
    list.iter().map(|s| s.title.as_str().to_owned()).collect()
}

async fn search(store: &dyn Store, terms: &[&str]) -> Vec<String> {
    let q = SearchQuery {
        terms: terms.iter().map(|t| (*t).to_owned()).collect(),
        limit: 50,
        ..SearchQuery::default()
    };
    titles(&store.shops().search(&q).await.expect("search"))
}

pub async fn shops_one_shop_per_member_kept_and_edited_by_its_owner(store: &dyn Store) {
    let (owner, s) = open(store, "a@example.jp", 1).await;
    let repo = store.shops();
    assert_eq!(
        repo.shop_of_owner(owner).await.expect("read"),
        Some(s.clone())
    );
    assert_eq!(repo.shop(s.id).await.expect("read"), Some(s.clone()));
    let second = shop(owner, "second", at(1));
    let e = commit_fails(store, Changes::new().with(Write::OpenShop(second))).await;
    assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    commit(
        store,
        Changes::new()
            .with(Write::EditShop {
                owner,
                shop: s.id,
                name: ShopName::parse("やまねこ工房").expect("name"),
                description: ShopDescription::parse("# ようこそ").expect("d"),
                at: at(5),
            })
            .with(Write::SetShopStatus {
                owner,
                shop: s.id,
                status: ShopStatus::Closed,
                at: at(6),
            }),
    )
    .await;
    let now = repo.shop(s.id).await.expect("read").expect("shop");
    assert_eq!(now.name.as_str(), "やまねこ工房");
    assert_eq!(now.description.as_str(), "# ようこそ");
    assert_eq!(now.status, ShopStatus::Closed);
    assert_eq!(now.updated_at, at(6));
}

pub async fn shops_writes_to_another_members_shop_item_or_image_change_nothing(store: &dyn Store) {
    let (alice, shop_a) = open(store, "alice@example.jp", 1).await;
    let (mallory, shop_m) = open(store, "mallory@example.jp", 2).await;
    let it = item(shop_a.id, "alice's mug", 1200, ItemStatus::OnSale, at(1));
    add(store, alice, &it).await;
    let img = image(it.id, at(2));
    commit(
        store,
        Changes::new().with(Write::AddItemImage {
            owner: alice,
            image: img.clone(),
            max_images: 10,
        }),
    )
    .await;
    let before_item = store.shops().item(it.id).await.expect("read");
    let before_shop = store.shops().shop(shop_a.id).await.expect("read");
    let edit = ItemEdit {
        title: ItemTitle::parse("pwned").expect("t"),
        description: ItemDescription::parse("").expect("d"),
        price: Price::new(Yen::new(1)).expect("p"),
        stock: Stock::UNLIMITED,
        search_text: "pwned".into(),
    };
    let attempts: Vec<(Write, &str)> = vec![
        (
            Write::EditShop {
                owner: mallory,
                shop: shop_a.id,
                name: ShopName::parse("pwned").expect("n"),
                description: ShopDescription::parse("").expect("d"),
                at: at(3),
            },
            guards::SHOP_NOT_FOUND,
        ),
        (
            Write::SetShopStatus {
                owner: mallory,
                shop: shop_a.id,
                status: ShopStatus::Closed,
                at: at(3),
            },
            guards::SHOP_NOT_FOUND,
        ),
        (
            Write::SetShopIcon {
                owner: mallory,
                shop: shop_a.id,
                icon: None,
                at: at(3),
            },
            guards::SHOP_NOT_FOUND,
        ),
        (
            // Adding to another member's shop.
            Write::AddItem {
                owner: mallory,
                item: item(shop_a.id, "planted", 1, ItemStatus::OnSale, at(3)),
                max_items: 1000,
            },
            guards::SHOP_NOT_FOUND,
        ),
        (
            Write::EditItem {
                owner: mallory,
                item: it.id,
                edit,
                at: at(3),
            },
            guards::ITEM_NOT_FOUND,
        ),
        (
            Write::SetItemStatus {
                owner: mallory,
                item: it.id,
                status: ItemStatus::Hidden,
                at: at(3),
            },
            guards::ITEM_NOT_FOUND,
        ),
        (
            Write::AddItemImage {
                owner: mallory,
                image: image(it.id, at(3)),
                max_images: 10,
            },
            guards::ITEM_NOT_FOUND,
        ),
        (
            Write::RemoveItemImage {
                owner: mallory,
                image: img.id,
            },
            guards::IMAGE_NOT_FOUND,
        ),
    ];
    for (write, guard) in attempts {
        // Mallory's own shop write comes first: the failed guard must
        // take it back too.
        let changes = Changes::new()
            .with(Write::SetShopStatus {
                owner: mallory,
                shop: shop_m.id,
                status: ShopStatus::Closed,
                at: at(3),
            })
            .with(write);
        let e = commit_fails(store, changes).await;
        assert!(e.is_precondition(guard), "{e:?} instead of {guard}");
    }
    assert_eq!(store.shops().item(it.id).await.expect("read"), before_item);
    assert_eq!(
        store.shops().shop(shop_a.id).await.expect("read"),
        before_shop
    );
    assert_eq!(
        store.shops().item_images(it.id).await.expect("read"),
        vec![ImageRecord { position: 0, ..img }]
    );
    assert_eq!(
        store.shops().count_items(shop_a.id).await.expect("count"),
        1
    );
    let m = store
        .shops()
        .shop(shop_m.id)
        .await
        .expect("read")
        .expect("shop");
    assert_eq!(m.status, ShopStatus::Open, "the whole bundle rolled back");
}

pub async fn shops_item_cap_holds_under_parallel_adds(store: &dyn Store) {
    let (owner, s) = open(store, "a@example.jp", 1).await;
    let bundles = (0..8).map(|i| {
        Changes::new().with(Write::AddItem {
            owner,
            item: item(s.id, &format!("item {i}"), 100, ItemStatus::Draft, at(1)),
            max_items: 3,
        })
    });
    let results = join_all(bundles.map(|c| try_commit(store, c))).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 3, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(
            r.is_precondition(guards::ITEM_LIMIT) || matches!(r, StoreError::Conflict(_)),
            "{r:?}"
        );
    }
    assert_eq!(store.shops().count_items(s.id).await.expect("count"), 3);
}

pub async fn shops_items_edit_status_and_images_in_order_up_to_the_cap(store: &dyn Store) {
    let (owner, s) = open(store, "a@example.jp", 1).await;
    let it = item(s.id, "マグカップ", 1500, ItemStatus::Draft, at(1));
    add(store, owner, &it).await;
    commit(
        store,
        Changes::new()
            .with(Write::EditItem {
                owner,
                item: it.id,
                edit: ItemEdit {
                    title: ItemTitle::parse("青いマグカップ").expect("t"),
                    description: ItemDescription::parse("**手作り**").expect("d"),
                    price: Price::new(Yen::new(1800)).expect("p"),
                    stock: Stock::UNLIMITED,
                    search_text: "青いマグカップ".into(),
                },
                at: at(2),
            })
            .with(Write::SetItemStatus {
                owner,
                item: it.id,
                status: ItemStatus::OnSale,
                at: at(3),
            }),
    )
    .await;
    let got = store
        .shops()
        .item(it.id)
        .await
        .expect("read")
        .expect("item");
    assert_eq!(got.title.as_str(), "青いマグカップ");
    assert_eq!(got.description.as_str(), "**手作り**");
    assert_eq!(got.price.yen(), Yen::new(1800));
    assert_eq!(got.stock, Stock::UNLIMITED);
    assert_eq!(got.status, ItemStatus::OnSale);
    assert_eq!((got.created_at, got.updated_at), (at(1), at(3)));
    assert_eq!(search(store, &["青い"]).await, ["青いマグカップ"]);

    let imgs: Vec<ImageRecord> = (0..3).map(|i| image(it.id, at(10 + i))).collect();
    for img in &imgs {
        commit(
            store,
            Changes::new().with(Write::AddItemImage {
                owner,
                image: img.clone(),
                max_images: 3,
            }),
        )
        .await;
    }
    let e = commit_fails(
        store,
        Changes::new().with(Write::AddItemImage {
            owner,
            image: image(it.id, at(20)),
            max_images: 3,
        }),
    )
    .await;
    assert!(e.is_precondition(guards::IMAGE_LIMIT), "{e:?}");
    let stored = store.shops().item_images(it.id).await.expect("read");
    assert_eq!(
        stored
            .iter()
            .map(|i| (i.id, i.position))
            .collect::<Vec<_>>(),
        vec![(imgs[0].id, 0), (imgs[1].id, 1), (imgs[2].id, 2)]
    );
    commit(
        store,
        Changes::new().with(Write::RemoveItemImage {
            owner,
            image: imgs[0].id,
        }),
    )
    .await;
    let list = store.shops().shop_items(s.id, 0, 10).await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].thumb_key.as_ref(), Some(&imgs[1].thumb_key));
    assert_eq!(list[0].shop_name, s.name);
}

pub async fn shops_media_access_names_the_owner_and_whether_it_is_public(store: &dyn Store) {
    let (owner, s) = open(store, "a@example.jp", 1).await;
    let it = item(s.id, "mug", 100, ItemStatus::Draft, at(1));
    add(store, owner, &it).await;
    let img = image(it.id, at(2));
    let icon = MediaKey::new(MediaKind::Icon, new_id(), ImageFormat::Png);
    commit(
        store,
        Changes::new()
            .with(Write::AddItemImage {
                owner,
                image: img.clone(),
                max_images: 10,
            })
            .with(Write::SetShopIcon {
                owner,
                shop: s.id,
                icon: Some(icon.clone()),
                at: at(2),
            }),
    )
    .await;
    let access =
        |key: MediaKey| async move { store.shops().media_access(&key).await.expect("read") };
    let private = Some(crate::MediaAccess {
        owner_id: owner,
        public: false,
    });
    let public = Some(crate::MediaAccess {
        owner_id: owner,
        public: true,
    });
    assert_eq!(
        access(img.media_key.clone()).await,
        private,
        "a draft's image"
    );
    assert_eq!(access(img.thumb_key.clone()).await, private);
    assert_eq!(access(icon.clone()).await, public);
    let set = |status| Write::SetItemStatus {
        owner,
        item: it.id,
        status,
        at: at(3),
    };
    commit(store, Changes::new().with(set(ItemStatus::OnSale))).await;
    assert_eq!(access(img.media_key.clone()).await, public);
    commit(store, Changes::new().with(set(ItemStatus::Hidden))).await;
    assert_eq!(access(img.thumb_key.clone()).await, private);
    commit(store, Changes::new().with(set(ItemStatus::SoldOut))).await;
    commit(
        store,
        Changes::new().with(Write::SetShopStatus {
            owner,
            shop: s.id,
            status: ShopStatus::Closed,
            at: at(4),
        }),
    )
    .await;
    assert_eq!(
        access(img.media_key.clone()).await,
        private,
        "a closed shop"
    );
    assert_eq!(access(icon).await, private);
    let unknown = MediaKey::new(MediaKind::Image, new_id(), ImageFormat::Jpeg);
    assert_eq!(access(unknown).await, None);
}

pub async fn shops_search_finds_japanese_substrings_and_only_public_items(store: &dyn Store) {
    let (alice, a) = open(store, "alice@example.jp", 1).await;
    let (bob, b) = open(store, "bob@example.jp", 2).await;
    let listed = [
        (
            alice,
            a.id,
            "手作りの青いマグカップ",
            1800,
            ItemStatus::OnSale,
        ),
        (
            alice,
            a.id,
            "赤いマグカップ 2個セット",
            3200,
            ItemStatus::SoldOut,
        ),
        (alice, a.id, "マグネット 猫", 500, ItemStatus::OnSale),
        (alice, a.id, "下書きのマグカップ", 900, ItemStatus::Draft),
        (alice, a.id, "非公開のマグカップ", 900, ItemStatus::Hidden),
        (bob, b.id, "100% cotton tote", 2500, ItemStatus::OnSale),
        (bob, b.id, "1000 cotton_bag", 2600, ItemStatus::OnSale),
        (bob, b.id, "猫の絵はがき", 300, ItemStatus::OnSale),
    ];
    for (i, (owner, shop, title, yen, status)) in listed.iter().enumerate() {
        let secs = i64::try_from(i).expect("small");
        add(
            store,
            *owner,
            &item(*shop, title, *yen, *status, at(10 + secs)),
        )
        .await;
    }
    // Trigram (3+ characters) and short (LIKE) terms, newest first.
    assert_eq!(
        search(store, &["マグカップ"]).await,
        ["赤いマグカップ 2個セット", "手作りの青いマグカップ"]
    );
    assert_eq!(
        search(store, &["マグ"]).await,
        [
            "マグネット 猫",
            "赤いマグカップ 2個セット",
            "手作りの青いマグカップ"
        ]
    );
    assert_eq!(
        search(store, &["猫"]).await,
        ["猫の絵はがき", "マグネット 猫"]
    );
    assert_eq!(search(store, &["マグ", "猫"]).await, ["マグネット 猫"]);
    assert_eq!(
        search(store, &["青い", "マグカップ"]).await,
        ["手作りの青いマグカップ"]
    );
    assert_eq!(search(store, &["ティーポット"]).await, Vec::<String>::new());
    // Wildcards are characters: "100%" is not "100 followed by anything",
    // "_" is not "any one character".
    assert_eq!(search(store, &["100%"]).await, ["100% cotton tote"]);
    assert_eq!(search(store, &["0%"]).await, ["100% cotton tote"]);
    assert_eq!(search(store, &["n_b"]).await, ["1000 cotton_bag"]);
    assert_eq!(search(store, &["on_"]).await, ["1000 cotton_bag"]);
    assert_eq!(search(store, &["%"]).await, ["100% cotton tote"]);
    assert_eq!(search(store, &["_"]).await, ["1000 cotton_bag"]);
    // FTS5 syntax and SQL in a term neither fail nor widen the search.
    for hostile in [
        "\"",
        "\"\"\"",
        "cot*",
        "NEAR(cotton tote)",
        "cotton OR 1=1",
        "title:cotton",
        "^cotton",
        "-cotton",
        "' OR '1'='1",
        "'); DROP TABLE items; --",
        "\\",
        "\\%",
        "(",
        "AND",
    ] {
        let found = search(store, &[hostile]).await;
        assert!(found.is_empty(), "{hostile:?} found {found:?}");
    }
    // Price range, sort and pages.
    let page = |sort, offset, limit, min: Option<i64>, max: Option<i64>| SearchQuery {
        terms: Vec::new(),
        min: min.map(Yen::new),
        max: max.map(Yen::new),
        sort,
        shop: None,
        offset,
        limit,
    };
    let run =
        |q: SearchQuery| async move { titles(&store.shops().search(&q).await.expect("search")) };
    assert_eq!(
        run(page(SearchSort::PriceAsc, 0, 3, None, None)).await,
        ["猫の絵はがき", "マグネット 猫", "手作りの青いマグカップ"]
    );
    assert_eq!(
        run(page(SearchSort::PriceAsc, 3, 3, None, None)).await,
        [
            "100% cotton tote",
            "1000 cotton_bag",
            "赤いマグカップ 2個セット"
        ]
    );
    assert_eq!(
        run(page(SearchSort::PriceAsc, 6, 3, None, None))
            .await
            .len(),
        0
    );
    assert_eq!(
        run(page(SearchSort::PriceDesc, 0, 2, Some(500), Some(2500))).await,
        ["100% cotton tote", "手作りの青いマグカップ"]
    );
    assert_eq!(
        run(page(SearchSort::Newest, 0, 10, Some(2500), Some(2500))).await,
        ["100% cotton tote"]
    );
    let in_shop = SearchQuery {
        shop: Some(b.id),
        limit: 10,
        ..SearchQuery::default()
    };
    assert_eq!(
        titles(&store.shops().search(&in_shop).await.expect("search")),
        ["猫の絵はがき", "1000 cotton_bag", "100% cotton tote"]
    );
    // A closed shop's items are not public any more.
    commit(
        store,
        Changes::new().with(Write::SetShopStatus {
            owner: bob,
            shop: b.id,
            status: ShopStatus::Closed,
            at: at(30),
        }),
    )
    .await;
    assert_eq!(search(store, &["猫"]).await, ["マグネット 猫"]);
    assert!(search(store, &["cotton"]).await.is_empty());
    // An edit moves the item in the index (SQLite's triggers).
    let edited = store.shops().shop_items(a.id, 0, 10).await.expect("list");
    let magnet = edited
        .iter()
        .find(|s| s.title.as_str() == "マグネット 猫")
        .expect("listed");
    commit(
        store,
        Changes::new().with(Write::EditItem {
            owner: alice,
            item: magnet.id,
            edit: ItemEdit {
                title: ItemTitle::parse("冷蔵庫用マグネット").expect("t"),
                description: ItemDescription::parse("").expect("d"),
                price: Price::new(Yen::new(500)).expect("p"),
                stock: Stock::UNLIMITED,
                search_text: "冷蔵庫用マグネット".into(),
            },
            at: at(31),
        }),
    )
    .await;
    assert!(search(store, &["猫"]).await.is_empty());
    assert_eq!(search(store, &["冷蔵庫"]).await, ["冷蔵庫用マグネット"]);
}
