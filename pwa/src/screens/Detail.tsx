import { useEffect, useState } from 'preact/hooks';
import type { User } from '../api';
import { useStoreVersion } from '../hooks';
import { getLang, hasKey, t } from '../i18n';
import { categoryName, formatTime, label, unitName } from '../labels';
import { correct, readRecord, type Correction, type RecordData } from '../record/core.mjs';
import { Correct } from '../record/Correct';
import { personName, type Reference } from '../reference';
import { recordText, type DocEntry, type Store } from '../store';
import type { SyncHandle } from '../sync/syncer';
import { FieldWorkflow } from '../console/FieldWorkflow';
import { Notes } from '../record/Notes';
import { Steps, Timeline } from '../record/Timeline';
import { historySentence, readHistory, type HistoryItem } from '../record/history';
import { addAttachments, readAttachments } from '../photos/attachments';
import { toAttachment, type Attachment } from '../photos/db';
import { PhotoPicker } from '../photos/PhotoPicker';
import { PhotoStrip } from '../photos/PhotoStrip';
import { useCare, type Care } from './Visits';
import { VISIT_CHECKS } from '../generated/protocol.mjs';

interface Props {
  id: string;
  user: User;
  store: Store;
  syncer: SyncHandle;
  reference: Reference;
  onBack: () => void;
  /** Opens a linked record: the visit a need was raised on, a need raised from this visit. */
  onOpen: (id: string) => void;
}

interface Loaded {
  record: RecordData;
  entry: DocEntry;
  history: HistoryItem[];
  attachments: Attachment[];
}

export function Detail({ id, user, store, syncer, reference, onBack, onOpen }: Props) {
  const version = useStoreVersion(store);
  const care = useCare(store);
  const [loaded, setLoaded] = useState<Loaded | null | undefined>(undefined);
  const [correcting, setCorrecting] = useState(false);
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let cancelled = false;
    (async () => {
      const got = await store.load(id);
      if (cancelled) return;
      if (!got) {
        setLoaded(null);
        return;
      }
      const { A, doc, entry } = got;
      const record = readRecord(doc);
      const mine = new Set((await store.meta<string[]>('actors')) ?? []);
      const history = readHistory(A, doc, mine, user.id, record.reported_by);
      if (!cancelled) {
        setLoaded({ record, entry, history, attachments: readAttachments(doc) });
        // Seen: whatever happened to it is no longer news on home.
        void store.markNewsRead([id]);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [id, store, version, user, reference]);

  if (loaded === undefined) {
    return (
      <main class="screen" aria-busy="true">
        <p class="boot">{t('app.loading')}</p>
      </main>
    );
  }
  if (loaded === null) {
    return (
      <main class="screen" data-testid="detail-missing">
        <p class="empty">{t('detail.missing')}</p>
        <button type="button" class="btn btn-light btn-block" onClick={onBack}>
          {t('detail.back')}
        </button>
      </main>
    );
  }

  const { record: r, entry, history, attachments } = loaded;
  const raised = store.all().filter((s) => s.raised_from === id);
  const summary = store.summary(id);
  const refusal = summary?.sync === 'refused' ? entry.refusal : undefined;
  const person = (uid: number) => personName(reference, user, uid);
  const afterEdit = () => {
    if (navigator.onLine) void syncer.syncNow();
  };

  async function addNote(text: string) {
    await store.addNote(id, user.id, text);
    afterEdit();
  }

  async function saveCorrection(patch: Correction) {
    await store.edit(id, (A, doc) => correct(A, doc, patch, Date.now()));
    setCorrecting(false);
    afterEdit();
  }

  async function addPhotos(photos: Attachment[]) {
    await store.edit(id, (A, doc) => addAttachments(A, doc, photos.map(toAttachment)));
    afterEdit();
  }

  async function copy() {
    const reason = refusal ? `${refusal.code}: ${refusal.message}\n\n` : '';
    await navigator.clipboard.writeText(reason + recordText(r));
    setCopied(true);
  }

  async function reset() {
    setBusy(true);
    await store.requestReset(id);
    setBusy(false);
    void syncer.syncNow();
  }

  async function discard() {
    if (!window.confirm(t('detail.discardConfirm'))) return;
    setBusy(true);
    await store.discard(id);
    setBusy(false);
    onBack();
  }

  return (
    <main class="screen screen-detail" data-testid="detail" data-id={id}>
      <button type="button" class="link-btn back" data-testid="back" onClick={onBack}>
        ‹ {t('detail.back')}
      </button>
      <div class="record-top">
        <span class={`chip chip-kind chip-${r.kind}`}>{label('kind', r.kind)}</span>
        {r.urgency === 'urgent' && <span class="chip chip-urgent">{label('urgency', 'urgent')}</span>}
        {summary && (
          <span class={`chip chip-sync chip-${summary.sync}`} data-testid="detail-sync" data-sync={summary.sync}>
            {label('sync', summary.sync)}
          </span>
        )}
      </div>
      <h1 class="screen-title" data-testid="detail-title">
        {r.title || t('records.untitled')}
      </h1>
      {/* Out of the user's area, any step they took would only be refused. */}
      {!entry.evicted && <FieldWorkflow id={id} user={user} store={store} syncer={syncer} reference={reference} />}

      {refusal && (
        <section class="alert alert-error refusal" role="alert" data-testid="refusal">
          <p class="alert-title">{t('detail.refused')}</p>
          <p>
            <code data-testid="refusal-code">{refusal.code}</code>
          </p>
          <p data-testid="refusal-message">{refusal.message}</p>
          <p class="muted">{hasKey(`refusal.${refusal.code}`) ? label('refusal', refusal.code) : t('refusal.other')}</p>
          <div class="row">
            <button type="button" class="btn btn-light" data-testid="copy" onClick={() => void copy()}>
              {copied ? t('detail.copied') : t('detail.copy')}
            </button>
            {/* Out of the user's area, or damaged on the server, there is no server version to go back to. */}
            {!entry.evicted && refusal.code !== 'damaged' && (
              <button
                type="button"
                class="btn btn-danger"
                data-testid="reset"
                disabled={!summary?.on_server || busy || entry.reset}
                onClick={() => void reset()}
              >
                {entry.reset ? t('detail.resetQueued') : t('detail.reset')}
              </button>
            )}
          </div>
          {!entry.evicted && !summary?.on_server && (
            <p class="muted" data-testid="reset-disabled">
              {t('detail.resetUnavailable')}
            </p>
          )}
        </section>
      )}
      {entry.evicted && (
        <section class="alert alert-error" role="alert">
          <p data-testid="evicted">{t('detail.evicted')}</p>
          <div class="row">
            <button type="button" class="btn btn-danger" data-testid="discard" disabled={busy} onClick={() => void discard()}>
              {t('detail.discard')}
            </button>
          </div>
        </section>
      )}

      <section class="card">
        <dl class="facts facts-detail">
          <Fact name={t('report.category')} value={categoryName(reference.categories, r.category)} />
          <Fact name={t('records.status')} value={label('status', r.status)} testid="detail-status" />
          <Fact name={t('report.address')} value={r.address} testid="detail-address" />
          <Fact name={t('report.household')} value={householdLine(care, r)} testid="detail-household" />
          <Fact
            name={t('report.persons')}
            value={r.persons.map((p) => care?.residents.get(p)?.name_masked ?? '').filter(Boolean).join('、')}
          />
          {VISIT_CHECKS.filter((c) => r.checks[c.code]).map((c) => {
            const answer = c.options.find((o) => o.code === r.checks[c.code]);
            const en = getLang() === 'en';
            return (
              <Fact
                key={c.code}
                name={en ? c.label_en : c.label_zh}
                value={answer ? (en ? answer.label_en : answer.label_zh) : r.checks[c.code]}
                testid={`detail-check-${c.code}`}
              />
            );
          })}
          <Fact name={t('report.grid')} value={unitName(reference.units, r.grid)} />
          <Fact name={t('report.sector')} value={unitName(reference.units, r.sector)} />
          <Fact name={t('detail.reporter')} value={person(r.reported_by)} testid="detail-reporter" />
          <Fact name={t('detail.reportedAt')} value={formatTime(r.reported_at)} />
          {r.location && (
            <Fact
              name={t('report.location')}
              value={t('report.locationValue', {
                lat: r.location.lat.toFixed(5),
                lng: r.location.lng.toFixed(5),
                acc: Math.round(r.location.accuracy_m ?? 0),
              })}
            />
          )}
        </dl>
        {r.raised_from && store.summary(r.raised_from) && (
          <button type="button" class="link-btn" data-testid="raised-from" onClick={() => onOpen(r.raised_from ?? '')}>
            {t('detail.raisedFrom')}：{store.summary(r.raised_from)?.title}
          </button>
        )}
        {raised.length > 0 && (
          <>
            <h2 class="section-title">{t('detail.raised')}</h2>
            {raised.map((s) => (
              <button key={s.id} type="button" class="link-btn" data-testid="raised" onClick={() => onOpen(s.id)}>
                {s.title || t('records.untitled')} · {label('status', s.status)}
              </button>
            ))}
          </>
        )}
      </section>

      <section class="card">
        <h2 class="section-title">{correcting ? t('detail.edit') : t('report.description')}</h2>
        {!correcting ? (
          <>
            <p class="prewrap" data-testid="detail-description">
              {r.description || t('detail.none')}
            </p>
            {/* A withdrawn or closed record is done with: nothing left to correct. */}
            {r.status !== 'withdrawn' && r.status !== 'closed' && (
              <button
                type="button"
                class={r.status === 'returned' ? 'btn btn-primary' : 'btn btn-light'}
                data-testid="edit-description"
                onClick={() => setCorrecting(true)}
              >
                {t(r.status === 'returned' ? 'detail.correct' : 'detail.edit')}
              </button>
            )}
          </>
        ) : (
          <Correct record={r} reference={reference} onSave={saveCorrection} onCancel={() => setCorrecting(false)} />
        )}
      </section>

      <section class="card" data-testid="detail-photos">
        <h2 class="section-title">{t('photos.title')}</h2>
        <PhotoStrip userId={user.id} attachments={attachments} version={version} />
        <PhotoPicker userId={user.id} state="pending" onAdded={addPhotos} />
      </section>

      <Notes title={t('detail.notes')} level={2} notes={r.notes} name={person} add={addNote} />

      {entry.kept && entry.kept.length > 0 && (
        <section class="card">
          <h2 class="section-title">{t('detail.kept')}</h2>
          {entry.kept.map((k) => (
            <div key={k.at} class="kept" data-testid="kept">
              <p class="muted">
                {formatTime(k.at)} · {k.code}
              </p>
              <p class="prewrap">{k.text}</p>
            </div>
          ))}
        </section>
      )}

      <Timeline title={t('detail.timeline')} level={2} entries={r.timeline} name={person} testid="timeline" />
      <Steps
        title={t('detail.history')}
        level={2}
        steps={history.map((h) => ({ key: h.hash, title: historySentence(h, (by) => (by === undefined ? t('history.other') : person(by))), at: h.time }))}
        testid="history"
        itemTestid="history-item"
      />
    </main>
  );
}

/** The household a record is about, by its door number (never its id), when the phone holds it. */
function householdLine(care: Care | null, r: RecordData): string {
  const h = r.household ? care?.households.find((x) => x.id === r.household) : undefined;
  return h ? `${h.number} · ${h.address}` : '';
}

function Fact({ name, value, testid }: { name: string; value: string; testid?: string }) {
  if (!value) return null;
  return (
    <div>
      <dt>{name}</dt>
      <dd data-testid={testid}>{value}</dd>
    </div>
  );
}
