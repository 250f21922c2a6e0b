declare const __SWARMCAST_VERSION__: string;
