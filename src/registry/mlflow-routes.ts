/**
 * MLflow-compatible model registry routes (under `/api/2.0/mlflow`), request and response shapes as in
 * `model_registry.proto`. Thin: each route validates its input with zod and calls one service method.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { requestContext, requestInput, sendMlflowJson } from '../server/http.ts';
import { missingValue } from './domain.ts';
import type { RegistryService } from './service.ts';

/** A required string; MLflow's message when it is missing. */
export function requiredString(field: string) {
  return z.string({ error: (issue) => (issue.input === undefined || issue.input === null ? missingValue(field) : `expected a string, got ${typeof issue.input}`) });
}

/** An optional string; JSON `null` means absent, as protobuf's JSON mapping has it. */
export const optionalString = z
  .string({ error: (issue) => `expected a string, got ${typeof issue.input}` })
  .nullish()
  .transform((v) => v ?? undefined);

/** A version number: a string as in MLflow's proto, or a JSON integer. */
export const versionField = z.union([z.string(), z.number().int()], {
  error: (issue) => (issue.input === undefined || issue.input === null ? missingValue('version') : `expected a version number, got ${JSON.stringify(issue.input)}`),
});

const tagList = z
  .array(
    z.object({
      key: requiredString('key'),
      value: z
        .string({ error: (issue) => `expected a string, got ${typeof issue.input}` })
        .nullish()
        .transform((v) => v ?? ''),
    }),
    { error: (issue) => `expected a list of {key, value}, got ${typeof issue.input}` },
  )
  .nullish()
  .transform((v) => v ?? []);

/** A repeated query parameter: one value arrives as a string, several as an array. */
const stringList = z
  .union([z.string(), z.array(z.string())], { error: 'expected a string or a list of strings' })
  .nullish()
  .transform((v) => (v === undefined || v === null ? undefined : Array.isArray(v) ? v : [v]));

const booleanField = z
  .union([z.boolean(), z.enum(['true', 'false', 'True', 'False'])], { error: 'expected true or false' })
  .nullish()
  .transform((v) => v === true || v === 'true' || v === 'True');

const searchSchema = z.object({
  filter: optionalString,
  max_results: z.union([z.number(), z.string()], { error: 'expected an integer' }).nullish(),
  order_by: stringList,
  page_token: optionalString,
});

const schemas = {
  createModel: z.object({ name: requiredString('name'), tags: tagList, description: optionalString }),
  name: z.object({ name: requiredString('name') }),
  rename: z.object({ name: requiredString('name'), new_name: requiredString('new_name') }),
  update: z.object({ name: requiredString('name'), description: optionalString }),
  latest: z.object({ name: requiredString('name'), stages: stringList }),
  modelTag: z.object({ name: requiredString('name'), key: requiredString('key'), value: optionalString.transform((v) => v ?? '') }),
  modelTagKey: z.object({ name: requiredString('name'), key: requiredString('key') }),
  setAlias: z.object({ name: requiredString('name'), alias: requiredString('alias'), version: versionField }),
  alias: z.object({ name: requiredString('name'), alias: requiredString('alias') }),
  createVersion: z.object({
    name: requiredString('name'),
    source: requiredString('source'),
    run_id: optionalString,
    tags: tagList,
    run_link: optionalString,
    description: optionalString,
  }),
  version: z.object({ name: requiredString('name'), version: versionField }),
  updateVersion: z.object({ name: requiredString('name'), version: versionField, description: optionalString }),
  versionTag: z.object({
    name: requiredString('name'),
    version: versionField,
    key: requiredString('key'),
    value: optionalString.transform((v) => v ?? ''),
  }),
  versionTagKey: z.object({ name: requiredString('name'), version: versionField, key: requiredString('key') }),
  transition: z.object({
    name: requiredString('name'),
    version: versionField,
    stage: requiredString('stage'),
    archive_existing_versions: booleanField,
  }),
  search: searchSchema,
};

type Handler = (request: FastifyRequest) => Promise<unknown>;

/** Registers the MLflow registry routes on `app` (mounted under `/api/2.0/mlflow`). */
export async function registryMlflowRoutes(app: FastifyInstance, deps: { registry: RegistryService }): Promise<void> {
  const registry = deps.registry;
  const route = (methods: string | string[], url: string, handler: Handler) =>
    app.route({
      method: methods as 'GET',
      url,
      handler: async (request: FastifyRequest, reply: FastifyReply) => sendMlflowJson(reply, await handler(request)),
    });

  route('POST', '/registered-models/create', async (request) => {
    const input = requestInput(request, schemas.createModel);
    return { registered_model: await registry.createRegisteredModel(requestContext(request), input) };
  });
  route('GET', '/registered-models/get', async (request) => {
    const { name } = requestInput(request, schemas.name);
    return { registered_model: await registry.getRegisteredModel(requestContext(request), name) };
  });
  route('POST', '/registered-models/rename', async (request) => {
    const { name, new_name } = requestInput(request, schemas.rename);
    return { registered_model: await registry.renameRegisteredModel(requestContext(request), name, new_name) };
  });
  route('PATCH', '/registered-models/update', async (request) => {
    const { name, description } = requestInput(request, schemas.update);
    return { registered_model: await registry.updateRegisteredModel(requestContext(request), name, description) };
  });
  route('DELETE', '/registered-models/delete', async (request) => {
    const { name } = requestInput(request, schemas.name);
    await registry.deleteRegisteredModel(requestContext(request), name);
    return {};
  });
  route('GET', '/registered-models/search', async (request) => {
    const input = requestInput(request, schemas.search);
    const page = await registry.searchRegisteredModels(requestContext(request), input);
    return { registered_models: page.items, ...(page.next_page_token ? { next_page_token: page.next_page_token } : {}) };
  });
  route(['GET', 'POST'], '/registered-models/get-latest-versions', async (request) => {
    const { name, stages } = requestInput(request, schemas.latest);
    return { model_versions: await registry.getLatestVersions(requestContext(request), name, stages) };
  });
  route('POST', '/registered-models/set-tag', async (request) => {
    const { name, key, value } = requestInput(request, schemas.modelTag);
    await registry.setRegisteredModelTag(requestContext(request), name, key, value);
    return {};
  });
  route('DELETE', '/registered-models/delete-tag', async (request) => {
    const { name, key } = requestInput(request, schemas.modelTagKey);
    await registry.deleteRegisteredModelTag(requestContext(request), name, key);
    return {};
  });
  route('POST', '/registered-models/alias', async (request) => {
    const { name, alias, version } = requestInput(request, schemas.setAlias);
    await registry.setAlias(requestContext(request), name, alias, version);
    return {};
  });
  route('DELETE', '/registered-models/alias', async (request) => {
    const { name, alias } = requestInput(request, schemas.alias);
    await registry.deleteAlias(requestContext(request), name, alias);
    return {};
  });
  route('GET', '/registered-models/alias', async (request) => {
    const { name, alias } = requestInput(request, schemas.alias);
    return { model_version: await registry.getModelVersionByAlias(requestContext(request), name, alias) };
  });

  route('POST', '/model-versions/create', async (request) => {
    const input = requestInput(request, schemas.createVersion);
    return { model_version: await registry.createModelVersion(requestContext(request), input) };
  });
  route('GET', '/model-versions/get', async (request) => {
    const { name, version } = requestInput(request, schemas.version);
    return { model_version: await registry.getModelVersion(requestContext(request), name, version) };
  });
  route('PATCH', '/model-versions/update', async (request) => {
    const { name, version, description } = requestInput(request, schemas.updateVersion);
    return { model_version: await registry.updateModelVersion(requestContext(request), name, version, description) };
  });
  route('DELETE', '/model-versions/delete', async (request) => {
    const { name, version } = requestInput(request, schemas.version);
    await registry.deleteModelVersion(requestContext(request), name, version);
    return {};
  });
  route('GET', '/model-versions/search', async (request) => {
    const input = requestInput(request, schemas.search);
    const page = await registry.searchModelVersions(requestContext(request), input);
    return { model_versions: page.items, ...(page.next_page_token ? { next_page_token: page.next_page_token } : {}) };
  });
  route('POST', '/model-versions/set-tag', async (request) => {
    const { name, version, key, value } = requestInput(request, schemas.versionTag);
    await registry.setModelVersionTag(requestContext(request), name, version, key, value);
    return {};
  });
  route('DELETE', '/model-versions/delete-tag', async (request) => {
    const { name, version, key } = requestInput(request, schemas.versionTagKey);
    await registry.deleteModelVersionTag(requestContext(request), name, version, key);
    return {};
  });
  route('POST', '/model-versions/transition-stage', async (request) => {
    const { name, version, stage, archive_existing_versions } = requestInput(request, schemas.transition);
    return {
      model_version: await registry.transitionStage(requestContext(request), name, version, stage, archive_existing_versions),
    };
  });
  route('GET', '/model-versions/get-download-uri', async (request) => {
    const { name, version } = requestInput(request, schemas.version);
    return { artifact_uri: await registry.getDownloadUri(requestContext(request), name, version) };
  });
}
