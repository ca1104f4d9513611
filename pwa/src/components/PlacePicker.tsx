import type { User } from '../api-types';
import { t } from '../i18n';
import type { Reference } from '../reference';

/**
 * Where a user files things: a leader always under their own sector; everyone else in a
 * grid of their area (the first by default) and, if they choose, one of its sectors.
 */
export function placeOf(user: User, reference: Reference): { fixedSector: string | null; defaultGrid: string } {
  const fixedSector = user.role === 'leader' ? user.unit : null;
  const defaultGrid = fixedSector
    ? fixedSector.slice(0, fixedSector.lastIndexOf('/'))
    : (reference.units.find((u) => u.kind === 'grid')?.path ?? '');
  return { fixedSector, defaultGrid };
}

interface Props {
  user: User;
  reference: Reference;
  grid: string;
  sector: string;
  onChange: (place: { grid: string; sector: string }) => void;
}

/** The grid (when the user has more than one) and sector fields of a form. */
export function PlacePicker({ user, reference, grid, sector, onChange }: Props) {
  const { fixedSector } = placeOf(user, reference);
  const grids = reference.units.filter((u) => u.kind === 'grid');
  const sectors = reference.units.filter((u) => u.kind === 'sector' && u.path.startsWith(`${grid}/`));
  return (
    <>
      {grids.length > 1 && !fixedSector && (
        <div class="field">
          <label for="grid">{t('report.grid')}</label>
          <select id="grid" value={grid} onChange={(e) => onChange({ grid: e.currentTarget.value, sector: '' })}>
            {grids.map((g) => (
              <option key={g.path} value={g.path}>
                {g.name}
              </option>
            ))}
          </select>
        </div>
      )}
      <div class="field">
        <label for="sector">{t('report.sector')}</label>
        {fixedSector ? (
          <p class="fixed-value" data-testid="sector-fixed">
            {reference.units.find((u) => u.path === fixedSector)?.name ?? user.unit_name}
          </p>
        ) : (
          <select id="sector" data-testid="sector" value={sector} onChange={(e) => onChange({ grid, sector: e.currentTarget.value })}>
            <option value="">{t('report.noSector')}</option>
            {sectors.map((s) => (
              <option key={s.path} value={s.path}>
                {s.name}
              </option>
            ))}
          </select>
        )}
      </div>
    </>
  );
}
