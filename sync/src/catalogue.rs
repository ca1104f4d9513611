//! The category catalogue served at `GET /api/v1/catalogue`, and the seed it starts from.
//!
//! Patrol events follow the event classes of China's digital urban-management standard
//! (数字化城市管理 事件分类: 市容环境, 宣传广告, 施工管理, 街面秩序, 突发事件, 其他);
//! resident needs and household visits follow what Suzhou's grid work records
//! (民生诉求, 关爱走访, "331" 消防安全排查, 入户核查). Two levels: a class with `parent: None`
//! and its subclasses. Records name a subclass; the class is there to group them on screen.
//!
//! Codes are permanent: they are stored inside record documents. Retire a category by
//! dropping it from what is offered, never by renaming its code.

use serde::Serialize;

use crate::record::Kind::{self, Event, Need, Visit};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Category {
    /// Lower-case ASCII, `domain.name`, e.g. `city.garbage_exposed`.
    pub code: &'static str,
    /// The class this subclass belongs to; `None` for a class.
    pub parent: Option<&'static str>,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// Which record kinds offer this category.
    pub kinds: &'static [Kind],
    /// Handling deadline (处置时限) from report to resolution, in hours.
    pub handling_hours: u32,
    /// Whether grid staff can usually settle it on the spot (自行处置) without dispatching.
    pub field_resolvable: bool,
}

/// The category with this code, if the seed has it.
pub fn find(code: &str) -> Option<&'static Category> {
    SEED.iter().find(|c| c.code == code)
}

/// Subclasses offered for a kind of record, in catalogue order.
pub fn for_kind(kind: Kind) -> impl Iterator<Item = &'static Category> {
    SEED.iter()
        .filter(move |c| c.parent.is_some() && c.kinds.contains(&kind))
}

const fn class(
    code: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    kinds: &'static [Kind],
    handling_hours: u32,
) -> Category {
    Category {
        code,
        parent: None,
        name_zh,
        name_en,
        kinds,
        handling_hours,
        field_resolvable: false,
    }
}

const fn sub(
    code: &'static str,
    parent: &'static str,
    name_zh: &'static str,
    name_en: &'static str,
    kinds: &'static [Kind],
    handling_hours: u32,
    field_resolvable: bool,
) -> Category {
    Category {
        code,
        parent: Some(parent),
        name_zh,
        name_en,
        kinds,
        handling_hours,
        field_resolvable,
    }
}

const E: &[Kind] = &[Event];
const N: &[Kind] = &[Need];
const V: &[Kind] = &[Visit];
const EN: &[Kind] = &[Event, Need];

#[rustfmt::skip]
pub const SEED: &[Category] = &[
    // ── Patrol events: digital urban-management event classes ──────────────────────────
    class("city.environment", "市容环境", "City appearance and sanitation", E, 24),
    sub("city.garbage_exposed", "city.environment", "暴露垃圾", "Exposed garbage", EN, 4, false),
    sub("city.garbage_overflow", "city.environment", "垃圾满溢", "Overflowing bins", EN, 4, false),
    sub("city.material_piled", "city.environment", "乱堆物料", "Materials piled in public space", E, 24, true),
    sub("city.road_dirty", "city.environment", "道路不洁", "Dirty road surface", E, 4, false),
    sub("city.water_dirty", "city.environment", "河道水域不洁", "Litter in rivers and canals", E, 24, false),
    sub("city.open_burning", "city.environment", "露天焚烧", "Open burning", E, 2, true),
    class("city.advertising", "宣传广告", "Advertising and notices", E, 24),
    sub("city.flyposting", "city.advertising", "违规张贴小广告", "Illegal flyposting", E, 24, true),
    sub("city.graffiti", "city.advertising", "乱涂写乱刻画", "Graffiti and scrawled ads", E, 48, false),
    sub("city.billboard_illegal", "city.advertising", "违规户外广告", "Unlicensed outdoor advertising", E, 72, false),
    sub("city.banner_illegal", "city.advertising", "违规悬挂横幅", "Unauthorised banners", E, 24, true),
    sub("city.flyer_handout", "city.advertising", "散发小广告", "Handing out flyers", E, 4, true),
    class("city.construction", "施工管理", "Construction management", E, 48),
    sub("city.construction_unlicensed", "city.construction", "无证施工", "Construction without a permit", E, 24, false),
    sub("city.construction_noise", "city.construction", "施工扰民", "Construction noise and disturbance", EN, 24, false),
    sub("city.construction_waste", "city.construction", "施工废弃料", "Construction waste left behind", E, 24, false),
    sub("city.construction_spill", "city.construction", "道路遗撒", "Spillage from construction vehicles", E, 4, false),
    sub("city.site_unfenced", "city.construction", "工地围挡缺失", "Site without hoarding", E, 24, false),
    class("city.street_order", "街面秩序", "Street order", E, 24),
    sub("city.street_vending", "city.street_order", "占道经营", "Trading on the street", E, 2, true),
    sub("city.shop_overflow", "city.street_order", "店外经营", "Shop trading outside its front", E, 4, true),
    sub("city.unlicensed_vendor", "city.street_order", "无照游商", "Unlicensed hawkers", E, 2, true),
    sub("city.car_parking", "city.street_order", "机动车乱停放", "Illegally parked cars", E, 2, false),
    sub("city.bike_parking", "city.street_order", "非机动车乱停放", "Bikes and e-bikes parked in the way", E, 4, true),
    sub("city.outdoor_bbq", "city.street_order", "露天烧烤", "Open-air barbecue stalls", E, 2, true),
    class("city.emergency", "突发事件", "Sudden incidents", E, 2),
    sub("city.road_collapse", "city.emergency", "路面塌陷", "Road surface collapse", E, 1, false),
    sub("city.water_main_burst", "city.emergency", "自来水管破裂", "Burst water main", E, 1, false),
    sub("city.gas_leak", "city.emergency", "燃气泄漏", "Gas leak", EN, 1, false),
    sub("city.sewer_blocked", "city.emergency", "下水道堵塞冒溢", "Blocked or overflowing sewer", EN, 2, false),
    sub("city.flooding", "city.emergency", "道路积水", "Standing water on the road", E, 2, false),
    sub("city.tree_fallen", "city.emergency", "树木倒伏", "Fallen tree", E, 2, false),
    class("city.other", "其他", "Other", E, 48),
    sub("city.manhole_damaged", "city.other", "井盖缺损", "Missing or broken manhole cover", EN, 2, false),
    sub("city.fire_lane_blocked", "city.other", "消防通道堵塞", "Blocked fire lane", EN, 2, true),
    sub("city.illegal_building", "city.other", "违法搭建", "Illegal structure", E, 168, false),
    sub("city.facility_damaged", "city.other", "公共设施损坏", "Damaged public facility", EN, 24, false),
    sub("city.event_other", "city.other", "其他事件", "Other problem", E, 48, false),
    // ── Resident needs ──────────────────────────────────────────────────────────────────
    class("need.elderly_care", "养老助老", "Elderly care", N, 48),
    sub("need.meal_assistance", "need.elderly_care", "助餐送餐", "Meal delivery", N, 24, false),
    sub("need.errand_help", "need.elderly_care", "代办代购", "Errands and shopping", N, 24, true),
    sub("need.medical_escort", "need.elderly_care", "陪诊就医", "Escort to a clinic", N, 48, false),
    sub("need.emergency_call", "need.elderly_care", "紧急求助", "Urgent call for help", N, 1, true),
    sub("need.home_adaptation", "need.elderly_care", "适老化改造", "Home adaptation for old age", N, 168, false),
    class("need.neighbour_dispute", "邻里纠纷", "Neighbour disputes", N, 72),
    sub("need.noise_dispute", "need.neighbour_dispute", "噪音扰民", "Noise between neighbours", N, 48, true),
    sub("need.water_leak_dispute", "need.neighbour_dispute", "漏水渗水", "Water leaking into a neighbour's home", N, 72, false),
    sub("need.corridor_dispute", "need.neighbour_dispute", "楼道堆物占用", "Belongings blocking a shared corridor", N, 48, true),
    sub("need.pet_dispute", "need.neighbour_dispute", "宠物扰民", "Pets disturbing neighbours", N, 48, true),
    sub("need.parking_dispute", "need.neighbour_dispute", "停车纠纷", "Parking dispute", N, 48, true),
    class("need.repairs", "设施报修", "Repairs", N, 72),
    sub("need.streetlight_out", "need.repairs", "路灯不亮", "Street light out", EN, 48, false),
    sub("need.stairwell_light", "need.repairs", "楼道灯损坏", "Stairwell light broken", N, 48, false),
    sub("need.elevator_fault", "need.repairs", "电梯故障", "Lift out of order", N, 24, false),
    sub("need.pipe_blocked", "need.repairs", "水管漏水下水堵塞", "Leaking pipe or blocked drain", N, 24, false),
    sub("need.fitness_equipment", "need.repairs", "健身器材损坏", "Broken outdoor fitness equipment", EN, 72, false),
    class("need.sanitation", "环境卫生", "Environment and hygiene", N, 48),
    sub("need.garbage_collection", "need.sanitation", "垃圾清运不及时", "Rubbish not collected", N, 24, false),
    sub("need.stairwell_cleaning", "need.sanitation", "楼道卫生", "Dirty stairwell", N, 48, true),
    sub("need.greenery_care", "need.sanitation", "绿化养护", "Overgrown or dying greenery", N, 72, false),
    sub("need.pest_control", "need.sanitation", "虫害鼠患", "Pests and rats", N, 72, false),
    class("need.safety_hazard", "安全隐患", "Safety hazards", EN, 24),
    sub("need.ebike_charging", "need.safety_hazard", "电动车违规充电", "E-bike charged in a stairwell or by a dangling cable", EN, 4, true),
    sub("need.falling_object", "need.safety_hazard", "高空坠物隐患", "Risk of objects falling from height", EN, 24, false),
    sub("need.fire_equipment", "need.safety_hazard", "消防设施缺损", "Missing or broken fire equipment", EN, 24, false),
    sub("need.dangerous_building", "need.safety_hazard", "房屋安全隐患", "Unsafe building", EN, 24, false),
    class("need.policy_inquiry", "政策咨询", "Policy questions", N, 72),
    sub("need.social_insurance", "need.policy_inquiry", "社保医保", "Pensions and medical insurance", N, 72, true),
    sub("need.subsistence_allowance", "need.policy_inquiry", "低保救助", "Subsistence allowance and relief", N, 72, false),
    sub("need.residence_papers", "need.policy_inquiry", "户籍证照", "Household registration and ID papers", N, 72, true),
    sub("need.employment", "need.policy_inquiry", "就业创业", "Jobs and starting a business", N, 72, true),
    sub("need.disability_benefit", "need.policy_inquiry", "残疾人补贴", "Disability benefits", N, 72, false),
    class("need.community_service", "社区服务", "Community services", N, 72),
    sub("need.certificate", "need.community_service", "证明开具", "Certificates and letters from the community", N, 48, false),
    sub("need.volunteer", "need.community_service", "志愿服务", "Volunteer help", N, 72, false),
    sub("need.activity", "need.community_service", "文体活动", "Cultural and sports activities", N, 168, false),
    sub("need.other", "need.community_service", "其他诉求", "Other request", N, 72, false),
    // ── Household visits ────────────────────────────────────────────────────────────────
    class("visit.care", "关爱走访", "Care visits", V, 168),
    sub("visit.elderly_alone", "visit.care", "独居老人", "Elderly person living alone", V, 168, true),
    sub("visit.disabled", "visit.care", "残疾人", "Person with a disability", V, 168, true),
    sub("visit.low_income", "visit.care", "低保户", "Low-income household", V, 168, true),
    sub("visit.children_in_difficulty", "visit.care", "困境儿童", "Children in difficulty", V, 168, true),
    sub("visit.veterans", "visit.care", "退役军人", "Veterans' household", V, 168, true),
    class("visit.fire_check", "消防安全排查（“331”）", "Fire safety check (\"331\" campaign)", V, 72),
    sub("visit.fire_rental", "visit.fire_check", "出租房屋", "Rented flat", V, 72, true),
    sub("visit.fire_group_rental", "visit.fire_check", "群租房", "Overcrowded group rental", V, 72, false),
    sub("visit.fire_three_in_one", "visit.fire_check", "“三合一”场所", "Live-work-storage premises (三合一)", V, 72, false),
    sub("visit.fire_small_venue", "visit.fire_check", "沿街商铺（“九小”场所）", "Small street-front venue", V, 72, true),
    class("visit.household_check", "入户核查", "Household checks", V, 168),
    sub("visit.population_check", "visit.household_check", "实有人口核查", "Resident population check", V, 168, true),
    sub("visit.rental_registration", "visit.household_check", "出租屋登记", "Rental registration", V, 168, true),
    sub("visit.info_update", "visit.household_check", "住户信息更新", "Household details update", V, 168, true),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::is_category_code;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for c in SEED {
            assert!(seen.insert(c.code), "duplicate code {}", c.code);
            assert!(is_category_code(c.code), "bad code {}", c.code);
            let (domain, name) = c.code.split_once('.').expect("domain.name");
            assert!(!name.contains('.'), "{}", c.code);
            assert!(["city", "need", "visit"].contains(&domain), "{}", c.code);
            assert!(!c.name_zh.is_empty() && !c.name_en.is_empty(), "{}", c.code);
            assert!(!c.kinds.is_empty() && c.handling_hours > 0, "{}", c.code);
        }
    }

    #[test]
    fn parents_exist_and_are_classes() {
        for c in SEED {
            let Some(parent) = c.parent else { continue };
            let p =
                find(parent).unwrap_or_else(|| panic!("{} has unknown parent {parent}", c.code));
            assert_eq!(p.parent, None, "{} nests too deep", c.code);
            assert_eq!(
                p.code.split_once('.').map(|x| x.0),
                c.code.split_once('.').map(|x| x.0),
                "{} is filed under another domain",
                c.code
            );
        }
        // Every class has subclasses: 3 to 6 of them.
        for class in SEED.iter().filter(|c| c.parent.is_none()) {
            let n = SEED.iter().filter(|c| c.parent == Some(class.code)).count();
            assert!((3..=6).contains(&n), "{} has {n} subclasses", class.code);
        }
    }

    #[test]
    fn every_kind_has_categories() {
        for kind in Kind::ALL {
            assert!(for_kind(*kind).count() >= 10, "{kind}");
        }
        assert!(for_kind(Kind::Visit).all(|c| c.code.starts_with("visit.")));
    }
}
