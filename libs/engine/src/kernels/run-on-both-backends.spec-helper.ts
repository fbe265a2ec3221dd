import * as tf from '@tensorflow/tfjs-core';

/** Runs `fn` on wasm, then on cpu (the independent reference), and leaves wasm active. */
export async function onBoth<T>(fn: () => T): Promise<{ wasm: T; cpu: T }> {
  await tf.setBackend('wasm');
  const wasm = fn();
  await tf.setBackend('cpu');
  const cpu = fn();
  await tf.setBackend('wasm');
  return { wasm, cpu };
}
