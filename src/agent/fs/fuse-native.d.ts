/** The part of fuse-native 2.2.6's API this project uses. */
declare module "fuse-native" {
  type Callback = (...args: never[]) => void;
  interface FuseOptions {
    allowOther?: boolean;
    defaultPermissions?: boolean;
    autoCache?: boolean;
    kernelCache?: boolean;
    entryTimeout?: number;
    attrTimeout?: number;
    fsname?: string;
    subtype?: string;
    /** Milliseconds before an operation that never called back gets ETIMEDOUT; false for none. */
    timeout?: number | false;
    debug?: boolean;
  }
  class Fuse {
    constructor(mnt: string, ops: Record<string, Callback>, opts?: FuseOptions);
    readonly mnt: string;
    mount(cb: (err: Error | null) => void): void;
    unmount(cb: (err: Error | null) => void): void;
    protected _fuseOptions(): string;
    /** The native thread handle fuse-native passes to its binding. */
    protected _thread: Buffer;
    static unmount(mnt: string, cb: (err: Error | null) => void): void;
    static readonly ENOENT: number;
    static readonly EIO: number;
    static readonly EROFS: number;
    static readonly ENODATA: number;
    static readonly ENOTDIR: number;
    static readonly EISDIR: number;
    static readonly EINVAL: number;
    static readonly ERANGE: number;
    static readonly EACCES: number;
  }
  export default Fuse;
}
