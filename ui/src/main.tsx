import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

// Global tokens first, so component styles imported by the app come after them.
import './index.css';

import { App } from './app';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');

createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
