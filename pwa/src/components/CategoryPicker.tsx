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
