import { TokensPage } from '@/features/tokens/components/tokens-page';
import { Authorized } from '@/lib/authorization';

import { useTitle } from './use-title';

export function TokensRoute() {
  useTitle('Tokens');
  return (
    <Authorized required="ADMIN" fallback={<p className="notice">Managing tokens needs an ADMIN token.</p>}>
      <TokensPage />
    </Authorized>
  );
}
