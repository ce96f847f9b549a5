// Compile-time types of the Proxmox VE API, derived from the proxmox-api package's generated model
// of the whole API. Types only: `import type` is erased, so nothing of that (GPL) package is loaded
// or shipped; it is a devDependency. A path the API does not have, a method it does not take there,
// or a parameter it does not know fails to compile.
import type { Proxmox } from 'proxmox-api';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

type MethodKey = { GET: '$get'; POST: '$post'; PUT: '$put'; DELETE: '$delete' };

/** One path segment: a literal property, or `{name}` through the model's `$(...)` accessor. */
type Step<Node, Segment extends string> = Segment extends `{${string}}`
  ? Node extends { $: (...args: never[]) => infer Next } ? Next : never
  : Segment extends keyof Node ? Node[Segment] : never;

type Walk<Node, Rest extends string> = Rest extends `${infer Head}/${infer Tail}`
  ? Walk<Step<Node, Head>, Tail>
  : Step<Node, Rest>;

/** The model node of a path template such as `/nodes/{node}/qemu/{vmid}/clone`. */
export type Endpoint<Path extends string> = Path extends `/${infer Rest}` ? Walk<Proxmox.Api, Rest> : never;

type Operation<M extends HttpMethod, Path extends string> = Endpoint<Path> extends infer E
  ? MethodKey[M] extends keyof E ? E[MethodKey[M]] : never
  : never;

/** `Path` itself when the API takes method M there, never otherwise (so a wrong path fails to compile). */
export type ApiPath<M extends HttpMethod, Path extends string> = [Operation<M, Path>] extends [never] ? never : Path;

/** The parameters (query or form body) the API takes for M at Path. */
export type ApiParams<M extends HttpMethod, Path extends string> = Operation<M, Path> extends (...args: infer A) => unknown
  ? A extends [] ? Record<string, never> : NonNullable<A[0]>
  : never;

/** What the model says the call returns (the client still parses the fields it reads). */
export type ApiReturns<M extends HttpMethod, Path extends string> = Operation<M, Path> extends (...args: never[]) => Promise<infer R>
  ? R
  : never;

type PathParamNames<Path extends string> = Path extends `${string}{${infer Name}}${infer Rest}`
  ? Name | PathParamNames<Rest>
  : never;

/** The values of a path template's `{name}` segments. */
export type PathParams<Path extends string> = { [K in PathParamNames<Path>]: string | number };
