import { useState } from 'preact/hooks';
import { Card } from '../components/Card';
import { t } from '../i18n';
import { formatTime } from '../labels';
import { useUnsaved } from '../unsaved';
import type { Note } from './core.mjs';

interface NotesProps {
  title: string;
  level: 2 | 3;
  notes: Note[];
  /** Who a user id is, as the screen knows people. */
  name: (id: number) => string;
  /** Writes a new note to the store; without it the card offers no form. */
  add?: (text: string) => Promise<unknown>;
}

/** A record's notes, oldest first, with who wrote each and when, and the form that adds one. */
export function Notes({ title, level, notes, name, add }: NotesProps) {
  return (
    <Card title={title} level={level}>
      {notes.length === 0 && <p class="muted">{t('notes.none')}</p>}
      <ul class="notes" data-testid="notes">
        {notes.map((n, i) => (
          <li key={i} class="note" data-testid="note">
            <p class="prewrap">{n.text}</p>
            <p class="muted">
              <span data-testid="note-by">{name(n.by)}</span> · {formatTime(n.at)}
            </p>
          </li>
        ))}
      </ul>
      {add && <NoteForm add={add} />}
    </Card>
  );
}

/**
 * Adds a note: `add` writes it (resolving once it is saved), then the box empties. Typing
 * not yet added holds back an app update (unsaved.ts).
 */
export function NoteForm({ add }: { add: (text: string) => Promise<unknown> }) {
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  useUnsaved(note.trim() !== '');

  async function submit() {
    const text = note.trim();
    if (!text || busy) return;
    setBusy(true);
    try {
      await add(text);
      setNote('');
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <textarea
        class="textarea"
        rows={3}
        placeholder={t('notes.placeholder')}
        aria-label={t('notes.add')}
        data-testid="note-input"
        value={note}
        onInput={(e) => setNote(e.currentTarget.value)}
      />
      <button type="button" class="btn btn-primary btn-block" disabled={busy || !note.trim()} data-testid="add-note" onClick={() => void submit()}>
        {t('notes.add')}
      </button>
    </>
  );
}
