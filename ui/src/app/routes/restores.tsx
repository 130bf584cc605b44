import { RestoresPage } from '@/features/restores/components/restores-page';

import { useTitle } from './use-title';

export function RestoresRoute() {
  useTitle('Restores');
  return <RestoresPage />;
}
