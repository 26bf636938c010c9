import { StargzError } from "../util/errors.ts";
import type { CommandModule } from "./command.ts";

// Placeholder until this command lands; replaced, not extended.
export const imageCommand: CommandModule = {
  summary: "not available yet",
  run: async () => {
    throw new StargzError("FAILED_PRECONDITION", "stargz image is not available in this build");
  },
};
