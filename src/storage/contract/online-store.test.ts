/** Runs the online-store contract against every backend of the test matrix. */
import { onlineBackends } from '../../../test/support/backends.ts';
import { describeOnlineStoreContract } from './online-store.ts';

for (const backend of onlineBackends()) describeOnlineStoreContract(backend);
