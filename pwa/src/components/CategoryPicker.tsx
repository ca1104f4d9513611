import { useState } from 'preact/hooks';
import type { Category, RecordKind } from '../api';
import { getLang, t } from '../i18n';

function name(c: Category): string {
  return getLang() === 'en' ? c.name_en : c.name_zh;
}

/** Top-level classes that offer something for `kind`, each with the subcategories that do. */
function categoryTree(categories: Category[], kind: RecordKind): { group: Category; subs: Category[] }[] {
  return categories
    .filter((c) => c.parent === null)
    .map((group) => ({
      group,
      subs: categories.filter((c) => c.parent === group.code && c.kinds.includes(kind)),
    }))
    .filter(({ group, subs }) => subs.length > 0 || group.kinds.includes(kind));
}

/** The class a category belongs to (itself for a class without subcategories). */
export function groupOf(categories: Category[], code: string): string {
  return categories.find((c) => c.code === code)?.parent ?? code;
}

interface Props {
  categories: Category[];
  kind: RecordKind;
  group: string;
  category: string;
  /** The class chosen, and the category ('' until a subcategory is chosen). */
  onChange: (group: string, category: string) => void;
}

/** The category of a record: its class, then (where it has them) a subcategory. */
export function CategoryPicker({ categories, kind, group: groupCode, category, onChange }: Props) {
  const tree = categoryTree(categories, kind);
  const group = tree.find((g) => g.group.code === groupCode);
  return (
    <div class="field">
      <label for="group">{t('report.category')}</label>
      <select
        id="group"
        data-testid="category-group"
        value={groupCode}
        onChange={(e) => {
          const code = e.currentTarget.value;
          const g = tree.find((x) => x.group.code === code);
          onChange(code, g && g.subs.length === 0 ? code : '');
        }}
      >
        <option value="">{categories.length ? t('report.choose') : t('report.noCatalogue')}</option>
        {tree.map(({ group: g }) => (
          <option key={g.code} value={g.code}>
            {name(g)}
          </option>
        ))}
      </select>
      {group && group.subs.length > 0 && (
        <select
          aria-label={t('report.subcategory')}
          data-testid="category"
          class="select-sub"
          value={category}
          onChange={(e) => onChange(groupCode, e.currentTarget.value)}
        >
          <option value="">{t('report.choose')}</option>
          {group.subs.map((c) => (
            <option key={c.code} value={c.code}>
              {name(c)}
            </option>
          ))}
        </select>
      )}
    </div>
  );
}

/** How many tiles the quick choice shows. */
const TILES = 6;

/** Categories one can file under for `kind`: subcategories, and classes without any. */
function leaves(categories: Category[], kind: RecordKind): Category[] {
  return categories.filter(
    (c) => c.kinds.includes(kind) && (c.parent !== null || !categories.some((s) => s.parent === c.code)),
  );
}

interface TilesProps {
  categories: Category[];
  kind: RecordKind;
  /** How often this user filed under each category: the most used come first. */
  used: Map<string, number>;
  category: string;
  onPick: (code: string) => void;
}

/**
 * The quick choice of category for older users: large tiles, this user's most used first
 * (then the catalogue's order), and a search over every category's name. The selects
 * below stay for browsing the whole tree.
 */
export function CategoryTiles({ categories, kind, used, category, onPick }: TilesProps) {
  const [q, setQ] = useState('');
  const all = leaves(categories, kind);
  const query = q.trim().toLowerCase();
  const shown = query
    ? all.filter((c) => c.name_zh.includes(query) || c.name_en.toLowerCase().includes(query) || c.code.includes(query))
    : [...all].sort((a, b) => (used.get(b.code) ?? 0) - (used.get(a.code) ?? 0)).slice(0, TILES);
  if (all.length === 0) return null;
  return (
    <div class="field">
      <span class="label" id="tiles-label">
        {t(query ? 'report.categoryFound' : used.size ? 'report.categoryUsed' : 'report.categoryCommon')}
      </span>
      <div class="tiles" role="radiogroup" aria-labelledby="tiles-label" data-testid="category-tiles">
        {shown.map((c) => (
          <button
            key={c.code}
            type="button"
            role="radio"
            aria-checked={category === c.code}
            class={category === c.code ? 'seg seg-on' : 'seg'}
            data-testid="category-tile"
            data-code={c.code}
            onClick={() => onPick(c.code)}
          >
            {name(c)}
          </button>
        ))}
        {shown.length === 0 && <p class="muted">{t('report.categoryNone')}</p>}
      </div>
      <input
        type="search"
        class="tiles-search"
        aria-label={t('report.categorySearch')}
        placeholder={t('report.categorySearch')}
        data-testid="category-search"
        value={q}
        onInput={(e) => setQ(e.currentTarget.value)}
      />
    </div>
  );
}
