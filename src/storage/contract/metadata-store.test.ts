/** Runs the metadata-store contract against every backend of the test matrix. */
import { metadataBackends } from '../../../test/support/backends.ts';
import { describeMetadataStoreContract } from './metadata-store.ts';

for (const backend of metadataBackends()) describeMetadataStoreContract(backend);
