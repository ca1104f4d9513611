import type { ComponentChildren } from 'preact';
import { Card } from '../components/Card';
import { formatTime, label } from '../labels';
import type { TimelineEntry } from './core.mjs';

/** One line of a record's story: a workflow step, or a change in its history. */
export interface Step {
  key: string | number;
  title: string;
  /** Who did it, when known. */
  who?: string;
  at: number;
  /** The step's workflow action, for `data-action`. */
  action?: string;
  body?: ComponentChildren;
}

interface StepsProps {
  title: string;
  level: 2 | 3;
  steps: Step[];
  testid: string;
  itemTestid: string;
}

/** A card of steps, oldest first: what, who and when, then whatever the step says more. */
export function Steps({ title, level, steps, testid, itemTestid }: StepsProps) {
  return (
    <Card title={title} level={level}>
      <ol class="timeline" data-testid={testid}>
        {steps.map((s) => (
          <li key={s.key} data-testid={itemTestid} data-action={s.action}>
            <strong>{s.title}</strong>
            <span class="muted">
              {' '}
              {s.who !== undefined && `${s.who} · `}
              {formatTime(s.at)}
            </span>
            {s.body}
          </li>
        ))}
      </ol>
    </Card>
  );
}

interface TimelineProps {
  title: string;
  level: 2 | 3;
  entries: TimelineEntry[];
  /** Who a user id is, as the screen knows people. */
  name: (id: number) => string;
  testid: string;
}

/** A record's workflow steps: the action, who took it and when, and its note. */
export function Timeline({ entries, name, ...card }: TimelineProps) {
  const steps = entries.map(
    (e, i): Step => ({
      key: i,
      title: label('action', e.action),
      who: name(e.by),
      at: e.at,
      action: e.action,
      body: e.note && <p class="prewrap">{e.note}</p>,
    }),
  );
  return <Steps {...card} steps={steps} itemTestid="timeline-entry" />;
}
