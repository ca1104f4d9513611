import { render } from 'preact';
import { App } from './app';
import { registerServiceWorker } from './sw-register';
import './styles.css';
import './textsize';

const root = document.getElementById('app');
if (!root) throw new Error('index.html lacks #app');
render(<App />, root);

// The dev server has no built service worker; registering there would cache stale modules.
if (import.meta.env.PROD) {
  registerServiceWorker().catch((err: unknown) => {
    console.warn('service worker registration failed; the app will need the network', err);
  });
}
