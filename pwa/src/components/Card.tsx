import type { ComponentChildren } from 'preact';

/**
 * A card with its title. The heading level follows the screen's outline: the field app's
 * Detail has the record's title as its h1, the console's record pane as an h2.
 */
export function Card({ title, level, testid, children }: { title: string; level: 2 | 3; testid?: string; children: ComponentChildren }) {
  const Heading = level === 2 ? 'h2' : 'h3';
  return (
    <section class="card" data-testid={testid}>
      <Heading class="section-title">{title}</Heading>
      {children}
    </section>
  );
}
