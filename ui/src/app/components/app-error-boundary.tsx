import { Component, type ErrorInfo, type ReactNode } from 'react';

import { Button } from '@/components/ui/button';
import { ErrorMessage } from '@/components/ui/error-message';

type State = { error: unknown };

/** Last line of defence: a rendering bug shows a message and a reload button, not a blank page. */
export class AppErrorBoundary extends Component<{ children: ReactNode }, State> {
  state: State = { error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { error };
  }

  componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error('Faultline UI crashed', error, info.componentStack);
  }

  render() {
    if (this.state.error === null) return this.props.children;
    return (
      <main className="centered-page">
        <ErrorMessage error={this.state.error} title="The page failed to render">
          <Button variant="primary" onClick={() => window.location.reload()}>
            Reload
          </Button>
        </ErrorMessage>
      </main>
    );
  }
}
