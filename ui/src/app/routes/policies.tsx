import { Link, useParams } from 'react-router';

import { Card } from '@/components/ui/card';
import { ErrorMessage } from '@/components/ui/error-message';
import { paths } from '@/config/paths';
import { usePolicy } from '@/features/policies/api/get-policy';
import { PoliciesList } from '@/features/policies/components/policies-list';
import { PolicyDetail } from '@/features/policies/components/policy-detail';
import { PolicyForm } from '@/features/policies/components/policy-form';
import { Authorized } from '@/lib/authorization';

import { useTitle } from './use-title';

const needsOperator = <p className="notice">Changing policies needs an OPERATOR token.</p>;

export function PoliciesRoute() {
  useTitle('Policies');
  return <PoliciesList />;
}

export function PolicyRoute() {
  const { id = '' } = useParams();
  useTitle('Policy');
  return <PolicyDetail id={id} />;
}

export function NewPolicyRoute() {
  useTitle('New policy');
  return (
    <div className="page">
      <div className="page-header">
        <p className="muted">
          <Link to={paths.policies}>Policies</Link> /
        </p>
        <h1>New snapshot policy</h1>
      </div>
      <Authorized required="OPERATOR" fallback={needsOperator}>
        <Card title="Policy">
          <PolicyForm />
        </Card>
      </Authorized>
    </div>
  );
}

export function EditPolicyRoute() {
  const { id = '' } = useParams();
  const policy = usePolicy(id);
  useTitle('Edit policy');
  return (
    <div className="page">
      <div className="page-header">
        <p className="muted">
          <Link to={paths.policies}>Policies</Link> / <Link to={paths.policy(id)}>{policy.data?.name ?? id.slice(0, 8)}</Link> /
        </p>
        <h1>Edit policy</h1>
      </div>
      <Authorized required="OPERATOR" fallback={needsOperator}>
        {policy.data ? (
          <Card title="Policy">
            {/* Keyed by id, not version: a background refetch must not replace what the operator
                is typing; the form keeps the ETag it started from and a 412 tells them. */}
            <PolicyForm key={policy.data.id} policy={policy.data} />
          </Card>
        ) : policy.isError ? (
          <ErrorMessage error={policy.error} title="Could not load the policy" />
        ) : (
          <p role="status">Loading policy…</p>
        )}
      </Authorized>
    </div>
  );
}
