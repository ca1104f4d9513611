/** Shown on every screen in demo mode so nobody mistakes demo data for real cases. */
export function DemoBanner() {
  return (
    <div class="demo-banner" role="note" data-testid="demo-banner">
      演示模式 / Demo mode
    </div>
  );
}
