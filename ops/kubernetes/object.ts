/** A Kubernetes object as gridchain writes it: apiVersion, kind, metadata and the rest. */
export type KubeObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
};
