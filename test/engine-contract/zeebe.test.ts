import test from 'ava';
import { doubleEnv, realCluster, realEnv, zeebeLimits } from '../zeebe/env.ts';
import { engineContractSuite } from './suite.ts';

// The whole contract through the real @camunda8/sdk client over gRPC, against the gateway double.
engineContractSuite('zeebe (gateway double)', doubleEnv, zeebeLimits);

if (realCluster) {
  engineContractSuite(`zeebe (cluster ${realCluster.address})`, () => realEnv(realCluster!), {
    ...zeebeLimits,
    clock: 'the cluster clock cannot be moved from the tests',
  });
} else {
  console.log('zeebe contract suite on a real cluster: SKIPPED (ZEEBE_ADDRESS is not set)');
  test.skip('zeebe (real cluster): the contract suite is skipped because ZEEBE_ADDRESS is not set', () => {});
}
