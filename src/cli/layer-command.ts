import { StargzError } from "../util/errors.ts";
import type { CommandModule } from "./command.ts";

// Placeholder until this command lands; replaced, not extended.
export const layerCommand: CommandModule = {
  summary: "not available yet",
  run: async () => {
    throw new StargzError("FAILED_PRECONDITION", "stargz layer is not available in this build");
  },
};
